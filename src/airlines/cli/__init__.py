"""The ``airlines`` command: one CLI for every program the system runs.

Each group lives in its own module and registers itself here; heavy imports
(PySpark, Kafka, Redis clients) happen inside commands so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

from airlines.cli import produce, values

app = typer.Typer(
    name="airlines",
    help="Real-time airline operations analytics: producers, local stack, streaming job, queries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(values.app, name="values")
produce.register(app)


def main() -> None:
    app()
