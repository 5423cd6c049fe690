"""``airlines stack``: the local ZooKeeper + 3 Kafka brokers + 6-node Redis Cluster."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from airlines.cli.common import console, err_console, fail, stack_dir
from airlines.config.types import parse_duration
from airlines.stack.ports import DEFAULT_KAFKA_PORT, DEFAULT_REDIS_PORT, DEFAULT_ZOOKEEPER_PORT

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from airlines.stack.local import LocalStack
    from airlines.stack.status import StackStatus

app = typer.Typer(
    help="Run the local stack: ZooKeeper, 3 Kafka brokers and a 6-node Redis Cluster "
    "as real processes. Files live in $AIRLINES_STACK_DIR (default ./.stack).",
    no_args_is_help=True,
)


class RichReporter:
    """Shows ``up``'s progress: one spinner line per part of the stack."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def _task(self, key: str, text: str) -> TaskID:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(text, total=1)
        return self.tasks[key]

    def update(self, key: str, text: str) -> None:
        self.progress.update(self._task(key, text), description=text)

    def done(self, key: str, text: str) -> None:
        self.progress.update(self._task(key, text), description=f"[green]✓[/] {text}", completed=1)


def _seconds(option: str, value: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        fail(f"{option}: {exc}")


def _stack() -> LocalStack:
    from airlines.stack.local import LocalStack

    return LocalStack(stack_dir())


@app.command("up")
def up(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once ready; the stack keeps running.")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            dir_okay=False,
            help="AppConfig YAML whose topics, key prefix, streaming and producer settings "
            "the generated stack config keeps (endpoints are the stack's own).",
        ),
    ] = None,
    port_base: Annotated[
        int | None,
        typer.Option(
            help="Lay ports out from N: ZooKeeper N, Kafka N+1..N+3, Redis N+4..N+9 "
            "(cluster bus +10000)."
        ),
    ] = None,
    zookeeper_port: Annotated[
        int | None, typer.Option(help=f"ZooKeeper port [{DEFAULT_ZOOKEEPER_PORT}].")
    ] = None,
    kafka_port: Annotated[
        int | None,
        typer.Option(help=f"First of 3 consecutive broker ports [{DEFAULT_KAFKA_PORT}]."),
    ] = None,
    redis_port: Annotated[
        int | None, typer.Option(help=f"First of 6 consecutive Redis ports [{DEFAULT_REDIS_PORT}].")
    ] = None,
    timeout: Annotated[
        str, typer.Option(help="Give up (and stop everything) if not ready within this.")
    ] = "120s",
    insecure_kafka: Annotated[
        bool,
        typer.Option(
            help="Kafka without TLS, authentication or ACLs, and ZooKeeper without SASL: "
            "open to any local process. Only to measure what security costs."
        ),
    ] = False,
    insecure_redis: Annotated[
        bool,
        typer.Option(
            help="Redis clients, replication and the cluster bus in plaintext (the ACL users "
            "stay): readable by any local process. Only to measure what TLS costs."
        ),
    ] = False,
) -> None:
    """Start the stack and wait until it is ready; stays in the foreground unless --detach.

    In the foreground, Ctrl-C or SIGTERM stops everything.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from airlines.config import ConfigError, load_config
    from airlines.stack.local import LocalStack, StackError, StackRefusedError
    from airlines.stack.ports import PortError, PortsBusyError, plan_ports
    from airlines.stack.prereqs import PrerequisiteError

    limit = _seconds("--timeout", timeout)
    base = None
    if config is not None:
        try:
            base = load_config(config)
        except ConfigError as exc:
            err_console.print(exc.render(), highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(2) from exc
    plan = None
    if any(v is not None for v in (port_base, zookeeper_port, kafka_port, redis_port)):
        try:
            plan = plan_ports(
                base=port_base, zookeeper=zookeeper_port, kafka=kafka_port, redis=redis_port
            )
        except PortError as exc:
            fail(str(exc))

    # While starting, SIGTERM/SIGHUP interrupt like Ctrl-C (up() then stops what it
    # started); once up in the foreground, any of them asks for a clean stop.
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if starting:
            raise KeyboardInterrupt
        stop.set()

    watched = (
        (signal.SIGTERM, signal.SIGHUP)
        if detach
        else (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
    )
    previous = {sig: signal.signal(sig, on_signal) for sig in watched}
    progress = Progress(
        SpinnerColumn(finished_text=""),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
    )
    if insecure_kafka:
        err_console.print(
            "[bold yellow]warning:[/] --insecure-kafka: Kafka and ZooKeeper accept any local "
            "process, unauthenticated and unencrypted",
            highlight=False,
        )
    if insecure_redis:
        err_console.print(
            "[bold yellow]warning:[/] --insecure-redis: Redis speaks plaintext to clients, "
            "replicas and the cluster bus",
            highlight=False,
        )
    stack = LocalStack(stack_dir(), RichReporter(progress))
    started = time.monotonic()
    already = bool(stack.running())
    try:
        stack.prerequisites()
        with progress:
            status = stack.up(
                plan,
                base,
                timeout=limit,
                insecure_kafka=insecure_kafka,
                insecure_redis=insecure_redis,
            )
    except PrerequisiteError as exc:
        fail("missing prerequisites, nothing was started:\n  " + "\n  ".join(exc.problems), 1)
    except PortsBusyError as exc:
        fail(f"{exc}; nothing was started", 1)
    except StackRefusedError as exc:
        fail(f"{exc}; nothing was started", 1)
    except StackError as exc:
        fail(f"{exc}\nEverything this run started was stopped.", 1)
    except KeyboardInterrupt:
        err_console.print("interrupted: everything this run started was stopped")
        raise typer.Exit(130) from None
    finally:
        starting = False
        if detach:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    if already:
        console.print(f"stack already up: config {status.config_path}", highlight=False)
    else:
        console.print(
            f"[bold green]stack up[/] in {time.monotonic() - started:.0f}s: "
            f"config {status.config_path}",
            highlight=False,
        )
    _print_status(status)
    if detach:
        console.print("Stop it with: airlines stack down", highlight=False)
        return
    _foreground(stack, stop)


def _foreground(stack: LocalStack, stop: threading.Event) -> None:
    """Wait for ``stop`` (a signal), warn about services that die, then stop everything."""
    console.print("Running in the foreground; Ctrl-C stops the stack.", highlight=False)
    reported: set[str] = set()
    while not stop.wait(2):
        if not stack.running():
            console.print("the stack was stopped elsewhere; exiting", highlight=False)
            return
        for spec in stack.services():
            if spec.name not in reported and not stack.is_running(spec.name):
                reported.add(spec.name)
                err_console.print(
                    f"[yellow]warning:[/] {spec.name} is not running "
                    f"(see {stack.layout.log(spec.name)})",
                    highlight=False,
                )
    err_console.print("stopping the stack…")
    for note in stack.down():
        err_console.print(f"  {note}", highlight=False)
    console.print("stack stopped; no process left", highlight=False)


def _print_status(status: StackStatus) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("service", "endpoint", "pid", "state", "detail"):
        table.add_column(column)
    for service in status.services:
        if service.running and service.ready:
            state = "[green]ready[/]"
        elif service.running:
            state = "[yellow]running[/]"
        else:
            state = "[red]stopped[/]"
        table.add_row(
            service.name, service.endpoint, str(service.pid or "-"), state, service.detail
        )
    console.print(table)
    console.print(f"stack dir:      {status.stack_dir}", highlight=False)
    console.print(f"config:         {status.config_path}", highlight=False)
    console.print(f"redis password: {status.redis_password_file}", highlight=False)


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print StackStatus as JSON.")] = False,
) -> None:
    """Show each service and whether it is ready; exit 0 only when the whole stack is up."""
    current = _stack().status()
    if as_json:
        typer.echo(current.model_dump_json(indent=2))
    else:
        headline = {"up": "[green]up[/]", "degraded": "[yellow]degraded[/]"}.get(
            current.state, "[red]down[/]"
        )
        console.print(f"stack: {headline}")
        _print_status(current)
        for problem in current.problems:
            console.print(f"  [yellow]•[/] {problem}", highlight=False)
    if not current.up:
        raise typer.Exit(1)


@app.command("down")
def down(
    purge: Annotated[
        bool, typer.Option("--purge", help="Also remove data, logs, password and config.")
    ] = False,
    timeout: Annotated[
        str, typer.Option(help="Wait this long after SIGTERM, then SIGKILL.")
    ] = "30s",
) -> None:
    """Stop every process of the stack (SIGTERM, then SIGKILL) and verify none is left."""
    from airlines.stack.local import StackError

    limit = _seconds("--timeout", timeout)
    stack = _stack()
    was_running = list(stack.running())
    try:
        notes = stack.down(purge=purge, timeout=limit)
    except StackError as exc:
        fail(str(exc), 1)
    for note in notes:
        err_console.print(f"  {note}", highlight=False)
    what = f"stopped {len(was_running)} services" if was_running else "nothing was running"
    if purge:
        what += f"; removed the stack's files in {stack.root}"
    console.print(f"{what}; no process of the stack is left", highlight=False)
