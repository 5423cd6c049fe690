"""The ``airlines`` command: one CLI for every program the system runs.

Each group lives in its own module and registers itself here; heavy imports
(PySpark, Kafka, Redis clients) happen inside commands so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

from airlines.cli import admin as admin_cli
from airlines.cli import dashboard as dashboard_cli
from airlines.cli import demo as demo_cli
from airlines.cli import k8s as k8s_cli
from airlines.cli import kafka as kafka_cli
from airlines.cli import produce, values
from airlines.cli import query as query_cli
from airlines.cli import stack as stack_cli
from airlines.cli import stream as stream_cli

app = typer.Typer(
    name="airlines",
    help="Real-time airline operations analytics: producers, local stack, streaming job, queries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(values.app, name="values")
produce.register(app)
app.add_typer(stack_cli.app, name="stack")
app.add_typer(admin_cli.topics_app, name="topics")
app.add_typer(kafka_cli.app, name="kafka")
app.add_typer(admin_cli.redis_app, name="redis")
app.command("smoke")(admin_cli.smoke)
stream_cli.register(app)
app.add_typer(query_cli.app, name="query")
demo_cli.register(app)
dashboard_cli.register(app)
app.add_typer(k8s_cli.app, name="k8s")


def main() -> None:
    app()
