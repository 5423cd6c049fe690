"""``airlines demo``: the whole system on this machine, with a live view of the analytics.

Starts the local stack (unless it is already up), the three regional producers, the
streaming job (10 s trigger) and the web dashboard, prints the dashboard's URL and each
component's /metrics, then shows the top delays per route in the terminal too, refreshed
as windows update. Everything listens on 127.0.0.1. Ctrl-C stops the dashboard, the job,
the producers and the stack it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Annotated

import orjson
import typer
from rich.console import Group
from rich.live import Live
from rich.text import Text

from airlines.cli.common import airlines_command, console, fail, stack_config_path, stack_dir
from airlines.config import dump_config, load_config
from airlines.contract.event import Region
from airlines.metrics import DASHBOARD_PORT
from airlines.paths import write_private


def _stack_is_up(env: dict[str, str]) -> bool:
    run = subprocess.run(
        [*airlines_command(), "stack", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        return False
    try:
        return bool(orjson.loads(run.stdout).get("up"))
    except orjson.JSONDecodeError:
        return False


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    handle: IO[bytes] = log.open("ab")
    return subprocess.Popen(
        [*airlines_command(), *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def _stop(processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    for process in processes:
        if process.poll() is None:
            # The command itself, not its group: the job stops its queries and Spark in
            # order; a SIGTERM straight to its JVM would race that shutdown.
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo(
    rate: Annotated[float, typer.Option(help="Events per second per producer.", min=0.1)] = 50,
    trigger: Annotated[str, typer.Option(help="Micro-batch trigger of the job.")] = "10s",
    top: Annotated[int, typer.Option(help="Flights shown per route.", min=1, max=50)] = 5,
    keep_stack: Annotated[
        bool, typer.Option("--keep-stack", help="Leave the stack running afterwards.")
    ] = False,
    dashboard_port: Annotated[
        int,
        typer.Option(min=1, max=65535, help="Port of the web dashboard (on 127.0.0.1)."),
    ] = DASHBOARD_PORT,
) -> None:
    """Run stack + producers + streaming job + web dashboard; watch the analytics live."""
    from airlines.cli.query import delays_table
    from airlines.dashboard.security import new_token
    from airlines.stack.local import LocalStack
    from airlines.store.connect import cluster_client
    from airlines.store.reader import AnalyticsReader
    from airlines.store.users import READER_USER, WRITER_USER

    if not _port_is_free(dashboard_port):
        fail(f"--dashboard-port: 127.0.0.1:{dashboard_port} is in use; choose another port")
    env = {**os.environ}
    started_stack = False
    if not _stack_is_up(env):
        console.print("starting the local stack …")
        up = subprocess.run([*airlines_command(), "stack", "up", "--detach"], env=env, check=False)
        if up.returncode != 0:
            fail("the local stack did not start (see above)", 1)
        started_stack = True
    base = load_config(stack_config_path())
    workdir = stack_dir() / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = time.strftime("%Y%m%d-%H%M%S")
    data = base.model_dump(by_alias=True)
    data["streaming"].update(
        {
            "trigger": trigger,
            "checkpointLocation": str(workdir / f"checkpoint-{run_id}"),
            # A live demo: start at the end of the topics, not at their history.
            "startingOffsets": "latest",
        }
    )
    data["producers"]["rate"] = rate
    config_path = workdir / "airlines-demo.yaml"
    config = base.model_validate(data)
    config_path.write_text(dump_config(config))
    env["AIRLINES_CONFIG"] = str(config_path)
    # Each program logs in to Redis as its own user: the job as the writer, the
    # dashboard and this view as the reader.
    stack = LocalStack(stack_dir())
    user_paths = {}
    for user in (WRITER_USER, READER_USER):
        user_config = config.model_copy(update={"redis": stack.redis_user(user, config.redis)})
        user_paths[user] = workdir / f"airlines-demo-{user}.yaml"
        user_paths[user].write_text(dump_config(user_config))
    config = load_config(user_paths[READER_USER])

    processes: list[subprocess.Popen[bytes]] = []
    interrupted = False
    try:
        job_log = workdir / "stream.log"
        metrics = {
            "job": _free_port(),
            **{region.value: _free_port() for region in Region},
            "dashboard": _free_port(),
        }
        processes.append(
            _start(
                [
                    "stream",
                    "--config",
                    str(user_paths[WRITER_USER]),
                    "--metrics-port",
                    str(metrics["job"]),
                ],
                job_log,
                env,
            )
        )
        for region in Region:
            args = ["produce", "--region", region.value, "--config", str(config_path)]
            args += ["--metrics-port", str(metrics[region.value])]
            processes.append(_start(args, workdir / f"produce-{region.value}.log", env))
        # The dashboard asks for a token: a new one each demo, in a file only this user
        # reads; the login link below carries it, as Jupyter's does.
        token = new_token()
        token_file = workdir / "dashboard-token"
        write_private(token_file, token + "\n")
        args = ["dashboard", "--config", str(user_paths[READER_USER])]
        args += ["--port", str(dashboard_port)]
        args += ["--token-file", str(token_file), "--metrics-port", str(metrics["dashboard"])]
        processes.append(_start(args, workdir / "dashboard.log", env))
        console.print(
            f"[bold]dashboard: http://127.0.0.1:{dashboard_port}/?token={token}[/]  (live "
            "charts; the first figures appear within two triggers)",
            highlight=False,
        )
        console.print(
            "metrics: "
            + "  ".join(
                f"{name} http://127.0.0.1:{port}/metrics" for name, port in metrics.items()
            ),
            highlight=False,
        )
        console.print(f"logs: {workdir}/ (stream.log, produce-*.log, dashboard.log)")
        client = cluster_client(config.redis)
        reader = AnalyticsReader(client, config.redis.key_prefix)
        routes = [t.route_name for t in config.topics]
        started = time.monotonic()
        with Live(console=console, refresh_per_second=2, screen=False) as live:
            while True:
                if processes[0].poll() is not None:
                    raise RuntimeError(f"the streaming job stopped; see {job_log}")
                if processes[-1].poll() is not None:
                    raise RuntimeError(f"the dashboard stopped; see {workdir / 'dashboard.log'}")
                beat = {
                    _text(k): _text(v) for k, v in client.hgetall(reader.layout.heartbeat()).items()
                }
                status = Text(
                    f"up {time.monotonic() - started:,.0f}s · producers {rate:g} ev/s each · "
                    f"trigger {trigger} · last batch {beat.get('batch_id', '-')} "
                    f"({beat.get('rows', 0)} rows) · Ctrl-C stops everything",
                    style="dim",
                )
                tables = [delays_table(reader.top_delays(route, None, top)) for route in routes]
                live.update(Group(status, *tables))
                time.sleep(2)
    except KeyboardInterrupt:
        interrupted = True
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
    finally:
        console.print("stopping the job and the producers …")
        _stop(processes)
        if started_stack and not keep_stack:
            console.print("stopping the local stack …")
            subprocess.run([*airlines_command(), "stack", "down"], env=env, check=False)
    if not interrupted:
        raise typer.Exit(1)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
