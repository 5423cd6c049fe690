"""``airlines query``: read the analytics the streaming job wrote to Redis."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from airlines.cli.common import ConfigOption, console, fail, resolve_config
from airlines.config import AppConfig
from airlines.contract.redis_layout import WindowAggregate, iso_utc, parse_iso_ms
from airlines.store.reader import AnalyticsReader, TopDelays

app = typer.Typer(help="Read analytics from Redis: routes, top delays, a flight's windows.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="How many.")]


@contextmanager
def _reader(config: AppConfig) -> Iterator[AnalyticsReader]:
    import redis
    from redis.exceptions import RedisClusterException

    from airlines.store.connect import RedisPasswordError, cluster_client

    try:
        client = cluster_client(config.redis)
    except RedisPasswordError as exc:
        fail(str(exc))
    except (redis.RedisError, RedisClusterException) as exc:
        fail(f"redis: cannot reach the cluster at {', '.join(config.redis.nodes)}: {exc}", 1)
    try:
        yield AnalyticsReader(client, config.redis.key_prefix)
    except (redis.RedisError, RedisClusterException) as exc:
        fail(f"redis: {exc}", 1)
    finally:
        client.close()


def _print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _time(epoch_ms: int) -> str:
    return iso_utc(epoch_ms).replace("T", " ")


def delays_table(top: TopDelays) -> Table:
    """The top-delays table (also the demo's live view)."""
    window = "no windows yet"
    if top.flights:
        first = top.flights[0]
        window = f"{_time(first.window_start_ms)} – {_time(first.window_end_ms)[11:]}"
    table = Table(title=f"{top.route}  ·  {window}", title_justify="left", expand=False)
    for name, justify in (
        ("flight", "left"),
        ("airline", "left"),
        ("avg delay (min)", "right"),
        ("delayed", "right"),
        ("events", "right"),
        ("passengers", "right"),
        ("avg price ($)", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for f in top.flights:
        table.add_row(
            f.flight_id,
            f.airline,
            f"{f.avg_delay_minutes:.1f}",
            f"{f.delayed_share:.0%}",
            str(f.event_count),
            str(f.total_passengers),
            f"{f.avg_ticket_price:,.2f}",
        )
    return table


@app.command("routes")
def routes(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Routes with analytics, and each route's latest window."""
    with _reader(resolve_config(config)) as reader:
        summaries = reader.routes()
    if as_json:
        _print_json([s.to_json() for s in summaries])
        return
    if not summaries:
        console.print("no analytics yet (is `airlines stream` running?)")
        return
    table = Table("route", "latest window", "flights", "events", "windows kept")
    for name in ("avg delay (min)", "delayed", "avg price ($)"):
        table.add_column(name, justify="right")
    for s in summaries:
        latest = _time(s.latest_window_start_ms) if s.latest_window_start_ms is not None else "-"
        table.add_row(
            s.route,
            latest,
            str(s.flights_in_latest),
            str(s.events_in_latest),
            str(s.windows),
            f"{s.avg_delay_minutes:.1f}" if s.avg_delay_minutes is not None else "-",
            f"{s.delayed_share:.0%}" if s.delayed_share is not None else "-",
            f"{s.avg_ticket_price:,.2f}" if s.avg_ticket_price is not None else "-",
        )
    console.print(table)


@app.command("health")
def health(
    batches: Annotated[
        int, typer.Option("--batches", "-n", min=1, max=120, help="Batch reports shown.")
    ] = 10,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The streaming job's last batch, how long ago it was, and its latest batch reports."""
    import time

    with _reader(resolve_config(config)) as reader:
        state = reader.health(batches)
    now_ms = int(time.time() * 1000)
    if as_json:
        _print_json(state.to_json(now_ms))
        return
    if not state.has_run:
        console.print("the job has not finished a batch yet (is `airlines stream` running?)")
        return
    console.print(
        f"last batch {state.last_batch_id} ({state.last_batch_rows} rows written) "
        f"{state.age_seconds(now_ms):.0f}s ago",
        highlight=False,
    )
    table = Table("batch", "finished", "records in", "rows written", "dead-lettered", "late")
    table.add_column("duplicates")
    table.add_column("markers")
    table.add_column("duration")
    for b in state.batches:
        table.add_row(
            str(b.batch_id),
            _time(b.finished_at_ms),
            str(b.input_rows),
            str(b.rows_written),
            str(b.dead_lettered),
            str(b.late_events),
            str(b.duplicates),
            str(b.markers),
            f"{b.duration_ms / 1000:.1f}s",
        )
    console.print(table)


@app.command("top-delays")
def top_delays(
    route: Annotated[str, typer.Option("--route", "-r", help="Route name, e.g. east-coast.")],
    window: Annotated[
        str,
        typer.Option(help="'latest', or the window's start as ISO 8601 (UTC if no offset)."),
    ] = "latest",
    limit: LimitOption = 10,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The most delayed flights of a route in a window (average delay, highest first)."""
    start: int | None = None
    if window != "latest":
        try:
            start = parse_iso_ms(window)
        except ValueError:
            fail(f"--window: expected 'latest' or an ISO 8601 time, got {window!r}")
    with _reader(resolve_config(config)) as reader:
        top = reader.top_delays(route, start, limit)
    if as_json:
        _print_json(top.to_json())
        return
    if not top.flights:
        where = "its latest window" if start is None else iso_utc(start)
        console.print(f"no analytics for route {route!r} in {where}")
        return
    console.print(delays_table(top))


@app.command("flight")
def flight(
    flight_id: Annotated[str, typer.Argument(help="Flight id, e.g. DL402.")],
    limit: LimitOption = 10,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """A flight's most recent windows, newest first."""
    with _reader(resolve_config(config)) as reader:
        windows = reader.flight(flight_id, limit)
    if as_json:
        from airlines.store.reader import aggregate_json

        _print_json([aggregate_json(w) for w in windows])
        return
    if not windows:
        console.print(f"no analytics for flight {flight_id!r}")
        return
    console.print(flight_table(flight_id, windows))


def flight_table(flight_id: str, windows: list[WindowAggregate]) -> Table:
    table = Table(title=f"{flight_id} ({windows[0].airline})", title_justify="left")
    for name in ("window", "route", "avg delay (min)", "delayed", "events", "passengers"):
        table.add_column(name, justify="left" if name in ("window", "route") else "right")
    table.add_column("avg price ($)", justify="right")
    for w in windows:
        table.add_row(
            f"{_time(w.window_start_ms)} – {_time(w.window_end_ms)[11:]}",
            w.route,
            f"{w.avg_delay_minutes:.1f}",
            f"{w.delayed_share:.0%}",
            str(w.event_count),
            str(w.total_passengers),
            f"{w.avg_ticket_price:,.2f}",
        )
    return table
