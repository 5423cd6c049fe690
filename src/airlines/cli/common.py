"""What every command shares: finding the config, printing errors, exiting."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from airlines.config import AppConfig, ConfigError, load_config

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

#: Where the local stack keeps data, logs, pids and the config it generates.
STACK_DIR_ENV = "AIRLINES_STACK_DIR"
CONFIG_ENV = "AIRLINES_CONFIG"


def stack_dir() -> Path:
    return Path(os.environ.get(STACK_DIR_ENV, ".stack")).resolve()


def stack_config_path() -> Path:
    """The config ``airlines stack up`` writes for the other commands to use."""
    return stack_dir() / "airlines.yaml"


def airlines_command() -> list[str]:
    """How to run the ``airlines`` CLI of this installation in a subprocess."""
    script = Path(sys.executable).with_name("airlines")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from airlines.cli import main; main()"]


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (YAML). Default: $AIRLINES_CONFIG, else the local stack's "
        "generated config if the stack is up, else built-in defaults.",
        dir_okay=False,
    ),
]


MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=1,
        max=65535,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (default: not served).",
    ),
]
MetricsHostOption = Annotated[
    str,
    typer.Option(
        "--metrics-host",
        help="Address /metrics listens on: 127.0.0.1 (this machine only) or 0.0.0.0 (a pod's "
        "every interface).",
    ),
]


def check_listen_address(option: str, host: str) -> str:
    """An IP address to listen on, else a clear error naming the option."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        fail(f"{option}: expected an IP address to listen on (e.g. 127.0.0.1), got {host!r}")


def say_error(text: str) -> None:
    """One plain line on stderr: no markup, no wrapping (logs and pipes read it whole)."""
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a clear error to stderr and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def resolve_config(path: Path | None) -> AppConfig:
    """Load the config a command should use (see :data:`ConfigOption`)."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    if path is None and stack_config_path().exists():
        path = stack_config_path()
    if path is None:
        # Say so: "connection refused on localhost" is puzzling when one meant a stack.
        say_error(
            f"note: no --config, no ${CONFIG_ENV} and no local stack at {stack_dir()}: "
            "using the built-in defaults (localhost). Start one with 'airlines stack up'."
        )
        return AppConfig()
    try:
        return load_config(path)
    except ConfigError as exc:
        err_console.print(exc.render(), highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from exc
