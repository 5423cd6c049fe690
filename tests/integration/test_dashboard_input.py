"""The dashboard under bad conditions and hostile input, on the local stack: a Redis that
is down gets a clear message, its Redis client can only read, every API parameter is
checked before use, and names from the events reach the page as text, never markup."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.integration.browser import chromium
from tests.integration.dashboard_access import TOKEN, api, auth_args, get
from tests.integration.processes import Command, free_port, http_get, wait_for

from airlines.config import AppConfig, dump_config
from airlines.contract.redis_layout import SINK_COLUMNS
from airlines.store.connect import cluster_client, redis_password
from airlines.store.readonly import ReadOnlyViolationError, read_only_client
from airlines.store.users import READER_USER, WRITER_USER
from airlines.store.writer import ClusterWriter, SinkSettings
from airlines_testkit.stack import FreshConfig, RunningStack

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_dashboard_without_redis_says_so(fresh_config: FreshConfig, tmp_path: Path) -> None:
    """Redis unreachable: 503 with a sentence from the API, a banner on the page."""
    data = fresh_config.config.model_dump(by_alias=True)
    data["redis"]["nodes"] = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    path = tmp_path / "no-redis.yaml"
    path.write_text(dump_config(AppConfig.model_validate(data)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = Command.start(
        "dashboard",
        ["dashboard", "--port", str(port), "--config", str(path), *auth_args(tmp_path)],
        tmp_path / "dashboard.log",
        fresh_config.env,
    )
    try:
        wait_for("the dashboard to answer", lambda: http_get(base + "/healthz")[0] == 200, 60)
        status, body = api(base, "/api/routes")
        assert status == 503
        assert body["detail"].startswith("Redis is unreachable (127.0.0.1:")
        assert "Traceback" not in json.dumps(body)
        assert get(base + "/readyz")[0] == 503
        with chromium() as browser:
            page = browser.new_page()
            page.goto(f"{base}/?token={TOKEN}")
            page.wait_for_selector("#banner:not([hidden])")
            assert "Redis is unreachable" in page.inner_text("#banner")
            assert page.get_attribute("#live-status", "data-status") == "unavailable"
    finally:
        dashboard.stop()


def test_the_dashboard_client_only_reads(fresh_config: FreshConfig) -> None:
    """The client refuses writes before sending them; the ACL user could not write anyway."""
    import redis

    config = fresh_config.config
    reader = read_only_client(config.redis)
    key = f"{config.redis.key_prefix}:probe"
    try:
        assert reader.hgetall(key) == {}
        with pytest.raises(ReadOnlyViolationError, match="refused SET"):
            reader.set(key, "1")
        pipe = reader.pipeline()
        pipe.hset(key, "a", "1")
        with pytest.raises(ReadOnlyViolationError, match="refused HSET"):
            pipe.execute()
        with pytest.raises(ReadOnlyViolationError, match="refused CLUSTER RESET"):
            reader.execute_command("CLUSTER RESET")
    finally:
        reader.close()
    plain = cluster_client(fresh_config.config_as(READER_USER).redis)
    try:
        assert plain.hgetall(key) == {}
        with pytest.raises(redis.exceptions.NoPermissionError):
            plain.set(key, "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            plain.hgetall("elsewhere:key")
    finally:
        plain.close()
    admin = cluster_client(config.redis)
    try:
        assert admin.exists(key) == 0
    finally:
        admin.close()


#: Values the API once answered with a 500 and a traceback, and their neighbours.
HOSTILE_WINDOWS = [
    "²",  # a digit to str.isdigit, not to int
    "9" * 4301,  # more digits than int() converts
    "253402300800000",  # epoch ms of 10000-01-01
    "9999-12-31T23:59:59-01:00",  # 10000-01-01 in UTC
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "-1",
    "１７１４５６４８０００００",  # fullwidth digits
]


#: The window start of the one window :func:`_dashboard_over` writes.
ONE_WINDOW_START = 1_714_564_800_000


@contextmanager
def _dashboard_over(
    stack: RunningStack,
    fresh_config: FreshConfig,
    airline: str,
    log: Path,
) -> Iterator[str]:
    """A real dashboard (the reader user) over one window of route r1, flight DL402 of
    ``airline``, written by the job's writer; yields its base URL."""
    start = ONE_WINDOW_START
    row = ("r1", airline, "DL402", start, start + 300_000, 3, 400, 250.0, 12.0, 1, 1 / 3, start)
    assert len(row) == len(SINK_COLUMNS)
    redis = fresh_config.config_as(WRITER_USER).redis
    writer = ClusterWriter(SinkSettings.from_config(redis, redis_password(redis)))
    try:
        assert writer.write_windows([row], batch_id=1) == 1
    finally:
        writer.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dashboard = Command.start(
        "dashboard",
        [
            "dashboard",
            "--port",
            str(port),
            "--config",
            str(fresh_config.path_as(READER_USER)),
            *auth_args(log.parent),
        ],
        log,
        fresh_config.env,
    )
    try:
        wait_for("the dashboard to answer", lambda: http_get(base + "/healthz")[0] == 200, 60)
        yield base
    finally:
        dashboard.stop()


def test_every_api_parameter_is_checked_before_use(
    stack: RunningStack,
    fresh_config: FreshConfig,
    tmp_path: Path,
) -> None:
    """Any value of any parameter gets an answer (200 or 404), or 422 naming the parameter:
    never a 500, never a traceback in the answer or the dashboard's log. Hypothesis draws
    the values, against a real dashboard over a route that has analytics."""
    start = ONE_WINDOW_START
    log = tmp_path / "dashboard.log"
    with _dashboard_over(stack, fresh_config, "Delta", log) as base:
        assert api(base, f"/api/routes/r1/top-delays?window={start}")[0] == 200

        def answer(path: str, names: tuple[str, ...], allowed: set[int]) -> None:
            status, body = get(base + path)
            assert status in allowed | {422}, (path, status, body[:300])
            assert b"Traceback" not in body
            if status == 422:
                detail = json.loads(body)["detail"]
                assert detail.split(":")[0] in names, (path, detail)

        def quoted(value: str) -> str:
            return urllib.parse.quote(value, safe="")

        text = st.text(max_size=60) | st.sampled_from(HOSTILE_WINDOWS)
        number = st.integers().map(str) | st.text(alphabet="0123456789²１-+", max_size=30)

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(window=text | number, limit=number | text, route=st.just("r1") | text)
        @example(window="9" * 4301, limit="10", route="r1")
        def top_delays(window: str, limit: str, route: str) -> None:
            path = f"/api/routes/{quoted(route)}/top-delays?window={quoted(window)}"
            answer(path, ("route", "window"), {200, 404})
            answer(f"/api/routes/r1/top-delays?limit={quoted(limit)}", ("limit",), {200})
            answer(f"/api/routes/{quoted(route)}/windows", ("route",), {200, 404})

        @settings(max_examples=100, deadline=None)
        @given(flight=st.just("DL402") | text, limit=number, batches=number)
        def flights_and_health(flight: str, limit: str, batches: str) -> None:
            if flight in ("", ".", ".."):  # not a path segment of their own
                return
            answer(f"/api/flights/{quoted(flight)}", ("flight_id",), {200, 404})
            answer(f"/api/flights/DL402?limit={quoted(limit)}", ("limit",), {200})
            answer(f"/api/health?batches={quoted(batches)}", ("batches",), {200})

        for window in HOSTILE_WINDOWS:
            answer(f"/api/routes/r1/top-delays?window={quoted(window)}", ("window",), set())
        top_delays()
        flights_and_health()
    assert "Traceback" not in log.read_text()


#: An airline name as hostile as the contract lets through: markup plotly would read,
#: a script, a right-to-left override and a zero-width space.
HOSTILE_NAME = (
    '<b>Bold</b><a href="https://example.invalid/">x</a>'
    '<img src=x onerror="window.pwned=1">\u202eenil\u200b'
)


def test_names_from_the_events_reach_the_page_as_text(
    stack: RunningStack,
    fresh_config: FreshConfig,
    tmp_path: Path,
) -> None:
    """Free text of the events (an airline's name) is shown as the text it is: no markup
    in the tables or in plotly's labels, and no reordering of what follows it."""
    log = tmp_path / "dashboard.log"
    with (
        _dashboard_over(stack, fresh_config, HOSTILE_NAME, log) as base,
        chromium() as browser,
    ):
        page = browser.new_page()
        page.goto(f"{base}/?token={TOKEN}")
        name = '#delays-table td[data-field="airline"]'
        page.wait_for_selector(name)
        assert page.text_content(name) == HOSTILE_NAME
        # The rows are replaced whenever the page refreshes, and a row taken out of the
        # document has no computed style: ask again of the row that is there, within a deadline.
        page.wait_for_function(
            """name => {
                const td = document.querySelector(name);
                return td !== null && td.isConnected
                    && getComputedStyle(td).unicodeBidi === "isolate";
            }""",
            arg=name,
            timeout=10_000,
        )
        markup = "#delays-table b, #delays-table a, #delays-table img"
        assert page.eval_on_selector_all(markup, "found => found.length") == 0
        # plotly's hover label of the flight's bar: the name as text, isolated.
        # A refresh redraws the chart and drops its hover label, so hover until a label shows.
        label = page.wait_for_function(
            """() => {
                Plotly.Fx.hover("delays-chart", [{curveNumber: 0, pointNumber: 0}]);
                const text = document.querySelector("#delays-chart .hoverlayer .hovertext");
                return text === null ? null : text.textContent;
            }""",
            timeout=10_000,
        )
        hover = str(label.json_value())
        assert f"\u2068{HOSTILE_NAME}\u2069: 12.0 min, 33% delayed" in hover, hover
        links = "#delays-chart .hoverlayer a, #delays-chart .hoverlayer image"
        assert page.eval_on_selector_all(links, "found => found.length") == 0
        assert page.evaluate("window.pwned") is None
