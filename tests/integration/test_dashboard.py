"""The dashboard and every component's /metrics, on a real run, in a real browser.

One run of the real system on the local stack: the streaming job (Spark), the three
producers and the dashboard, each as its own `airlines` process with /metrics on
127.0.0.1. The dashboard logs in to Redis as an ACL user with the read-only rules the
chart gives it. Headless Chromium (Debian's, driven by Playwright) opens the page:

* before the first batch it says there are no analytics yet, then fills in without a
  reload when the job writes them (server-sent events);
* without the dashboard's token the page is refused (401); its login link
  (``/?token=...``) lets the browser in, and the page then lives within its
  Content-Security-Policy;
* the page shows the same figures as `airlines query --json` (its tables carry the exact
  values; the text is formatted as the CLI formats it), and the API returns the very
  documents the CLI prints;
* after a new batch (more events, some late, some bad) the page updates in place;
* an unknown flight, an unknown route, a bad window, and a dashboard whose Redis is down
  get a clear message and the right status;
* the job's counters equal the sums of its logged batch lines, the producers' equal
  their summaries, and the dashboard's count the requests it served.

A screenshot of the page is saved in the test's tmp directory (its path is printed).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from tests.integration.browser import chromium
from tests.integration.dashboard_access import TOKEN, api, auth_args
from tests.integration.processes import Command, free_port, http_get, scrape, value, wait_for

from airlines.config import AppConfig, dump_config
from airlines.contract.event import Region
from airlines.produce.simulator import FleetSimulator
from airlines.store.users import READER_USER, WRITER_USER
from airlines_testkit.job_log import logged_batches
from airlines_testkit.services import produce_messages
from airlines_testkit.stack import FreshConfig, RunningStack, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.spark]

PER_PRODUCER = 120
BAD_RECORDS = [b"not json", b'{"flight_id": "DL1"}', b"", b"[1, 2]"]
LATE_EVENTS = 6


def _as(stack: RunningStack, config: AppConfig, user: str) -> AppConfig:
    """``config`` logged in to Redis as one of the stack's users."""
    return config.model_copy(update={"redis": stack.redis_user(user, config.redis)})


def _query(env: dict[str, str], *args: str) -> Any:
    result = run_cli("query", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _cells(page: Page, table: str) -> list[dict[str, str]]:
    """Each body row of a page table as {field: exact value} and {field + ' text': text}."""
    rows = page.eval_on_selector_all(
        f"#{table} tbody tr",
        """rows => rows.map(row => Object.fromEntries([...row.children].flatMap(td => [
            [td.dataset.field, td.dataset.value ?? ''],
            [td.dataset.field + ' text', td.textContent],
        ])))""",
    )
    return list(rows)


def _shows(text: str, exact: float, unit: float) -> bool:
    """``text`` is ``exact`` rounded to ``unit`` (either way on a tie: JavaScript rounds
    ties up, Python to even), written as the CLI writes it (thousands separators, %)."""
    shown = float(text.replace(",", "").rstrip("%"))
    scale = 100 if text.endswith("%") else 1
    return abs(shown - exact * scale) <= unit / 2 + 1e-9


def _assert_routes_shown(page: Page, routes: list[dict[str, Any]]) -> None:
    shown = _cells(page, "routes-table")
    assert [r["route"] for r in shown] == [r["route"] for r in routes]
    for row, route in zip(shown, routes, strict=True):
        assert int(row["flights_in_latest"]) == route["flights_in_latest"]
        assert int(row["events_in_latest"]) == route["events_in_latest"]
        for field in ("avg_delay_minutes", "delayed_share", "avg_ticket_price"):
            assert float(row[field]) == route[field], (route["route"], field)
        assert _shows(row["avg_delay_minutes text"], route["avg_delay_minutes"], 0.1)
        assert _shows(row["delayed_share text"], route["delayed_share"], 1)
        assert _shows(row["avg_ticket_price text"], route["avg_ticket_price"], 0.01)


def _assert_windows_shown(page: Page, table: str, windows: list[dict[str, Any]]) -> None:
    shown = _cells(page, table)
    assert len(shown) == len(windows) > 0
    for row, window in zip(shown, windows, strict=True):
        if "flight_id" in row:
            assert row["flight_id"] == window["flight_id"]
        for field in ("avg_delay_minutes", "delayed_share", "avg_ticket_price"):
            assert float(row[field]) == window[field], (window["flight_id"], field)
        assert int(row["event_count"]) == window["event_count"]
        assert int(row["total_passengers"]) == window["total_passengers"]
        assert _shows(row["avg_delay_minutes text"], window["avg_delay_minutes"], 0.1)
        assert _shows(row["delayed_share text"], window["delayed_share"], 1)
        assert _shows(row["avg_ticket_price text"], window["avg_ticket_price"], 0.01)


def _assert_batches_shown(page: Page, batches: list[dict[str, Any]]) -> None:
    shown = _cells(page, "batches-table")
    assert [int(b["batch_id"]) for b in shown] == [b["batch_id"] for b in batches]
    for row, batch in zip(shown, batches, strict=True):
        for field in (
            "input_rows",
            "rows_written",
            "dead_lettered",
            "late_events",
            "duplicates",
            "markers",
        ):
            assert int(row[field]) == batch[field], (batch["batch_id"], field)


MISMATCHES: list[str] = []


def _page_matches_cli(page: Page, env: dict[str, str]) -> bool:
    """The page's tables equal what the CLI prints now (False while they differ; the last
    difference is in MISMATCHES, for the failure message)."""
    routes = _query(env, "routes")
    route = page.input_value("#delays-route")
    flight = page.get_attribute("#flight-table", "data-flight") or ""
    try:
        _assert_routes_shown(page, routes)
        _assert_windows_shown(
            page, "delays-table", _query(env, "top-delays", "--route", route)["flights"]
        )
        _assert_windows_shown(page, "flight-table", _query(env, "flight", flight, "-n", "12"))
        _assert_batches_shown(page, _query(env, "health", "-n", "10")["batches"])
    except AssertionError as exc:
        MISMATCHES.append(f"{exc!r} (route {route}, flight {flight})")
        return False
    return True


def _wait_for_match(page: Page, env: dict[str, str], what: str) -> None:
    MISMATCHES.clear()
    try:
        wait_for(what, lambda: _page_matches_cli(page, env), 60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last difference: {MISMATCHES[-1:]}") from None


def _late_and_bad(config: AppConfig) -> list[tuple[str, bytes | None, bytes | None]]:
    """Events ten minutes old (late once the watermark has moved on) and bad records."""
    topic = config.topic_for_region(Region.EAST_COAST).name
    simulator = FleetSimulator(Region.EAST_COAST, fleet_size=config.producers.fleet_size, seed=9)
    old = datetime.now(UTC) - timedelta(minutes=10)
    late = [simulator.event_at(old + timedelta(seconds=i)) for i in range(LATE_EVENTS)]
    messages: list[tuple[str, bytes | None, bytes | None]] = [
        (topic, e.flight_id.encode(), e.to_json()) for e in late
    ]
    return messages + [(topic, b"bad", value) for value in BAD_RECORDS]


def _fresh_events(config: AppConfig, count: int) -> list[tuple[str, bytes | None, bytes | None]]:
    out: list[tuple[str, bytes | None, bytes | None]] = []
    now = datetime.now(UTC)
    for topic in config.topics:
        simulator = FleetSimulator(topic.region, fleet_size=config.producers.fleet_size, seed=5)
        for i in range(count):
            event = simulator.event_at(now + timedelta(milliseconds=i))
            out.append((topic.name, event.flight_id.encode(), event.to_json()))
    return out


def _summary(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+) delivered, (\d+) failed, (\d+) unacknowledged", text)
    assert match, text
    delivered, failed, pending = (int(g) for g in match.groups())
    return delivered, failed, pending


def test_dashboard_and_metrics_on_a_real_run(
    stack: RunningStack,
    fresh_config: FreshConfig,
    tmp_path: Path,
) -> None:
    data = fresh_config.config.model_dump(by_alias=True)
    data["streaming"]["trigger"] = "4s"
    config = AppConfig.model_validate(data)
    # The job logs in to Redis as the writer; the dashboard and `airlines query` (the
    # config of every other command here) as the read-only reader.
    path = tmp_path / "run.yaml"
    path.write_text(dump_config(_as(stack, config, WRITER_USER)))
    reader_path = tmp_path / "dashboard.yaml"
    reader_path.write_text(dump_config(_as(stack, config, READER_USER)))
    env = {**fresh_config.env, "AIRLINES_CONFIG": str(reader_path)}
    names = ("job", "dashboard", "dashboard-metrics", *(r.value for r in Region))
    ports = {name: free_port() for name in names}
    base = f"http://127.0.0.1:{ports['dashboard']}"
    commands: list[Command] = []
    try:
        dashboard = Command.start(
            "dashboard",
            [
                "dashboard",
                "--port",
                str(ports["dashboard"]),
                "--config",
                str(reader_path),
                *auth_args(tmp_path, ports["dashboard-metrics"]),
            ],
            tmp_path / "dashboard.log",
            env,
        )
        commands.append(dashboard)
        wait_for("the dashboard to answer", lambda: http_get(base + "/healthz")[0] == 200, 60)
        assert api(base, "/api/routes") == (200, [])
        assert api(base, "/api/health")[1]["status"] == "no-batches"

        job = Command.start(
            "job",
            ["stream", "--config", str(path), "--metrics-port", str(ports["job"])],
            tmp_path / "stream.log",
            env,
        )
        commands.append(job)
        producers = {}
        for region in Region:
            args = ["produce", "--region", region.value, "--count", str(PER_PRODUCER)]
            args += ["--rate", "60", "--metrics-port", str(ports[region.value])]
            args += ["--metrics-linger", "10m", "--seed", "3"]
            log = tmp_path / f"produce-{region.value}.log"
            producers[region] = Command.start(f"producer {region.value}", args, log, env)
        commands.extend(producers.values())

        with chromium() as browser:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            # The page lives within its Content-Security-Policy: Chromium reports any
            # script, style or connection the policy blocks on the console.
            blocked: list[str] = []
            page.on(
                "console",
                lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None,
            )
            # -- without the token the page is refused; its login link lets the browser in --
            refused = page.goto(base + "/")
            assert refused is not None
            assert refused.status == 401
            assert "asks for its token" in page.inner_text("h1")
            assert page.evaluate("typeof window.Plotly") == "undefined"
            page.goto(f"{base}/?token={TOKEN}")
            assert page.url == base + "/", "the token stays out of the address bar"
            page.wait_for_selector("#routes-empty:not([hidden])")
            assert "No analytics yet" in page.inner_text("#routes-empty")
            page.evaluate("window.__notReloaded = true")

            # -- the producers' metrics equal their summaries -----------------------------
            for region, producer in producers.items():
                url = f"http://127.0.0.1:{ports[region.value]}/metrics"
                labels = {"region": region.value, "topic": config.topic_for_region(region).name}

                def done(
                    url: str = url, labels: dict[str, str] = labels, producer: Command = producer
                ) -> Any:
                    producer.check_alive()
                    samples = scrape(url)
                    if samples is None:
                        return None
                    delivered = value(samples, "airlines_producer_events_delivered_total", **labels)
                    failed = value(samples, "airlines_producer_events_failed_total", **labels)
                    flying = value(samples, "airlines_producer_events_in_flight", **labels)
                    finished = delivered + failed == PER_PRODUCER and flying == 0
                    return samples if finished else None

                samples = wait_for(f"{region.value}'s deliveries", done, 120)
                assert producer.stop() == 0
                delivered, failed, pending = _summary(producer.text())
                assert value(samples, "airlines_producer_events_delivered_total", **labels) == (
                    delivered
                )
                assert value(samples, "airlines_producer_events_failed_total", **labels) == failed
                assert (delivered, failed, pending) == (PER_PRODUCER, 0, 0)
                assert (
                    value(samples, "airlines_producer_delivery_latency_seconds_count", **labels)
                    == delivered
                )

            # -- the page fills in by itself when the first batches land ------------------
            def all_routes() -> bool:
                job.check_alive()
                routes = api(base, "/api/routes")[1]
                return len(routes) == 3 and sum(r["events_in_latest"] for r in routes) > 0

            wait_for("analytics of every route", all_routes, 400)
            expected_in = 3 * PER_PRODUCER
            wait_for(
                "the job to read every event",
                lambda: sum(b.input_rows for b in logged_batches(job.text())) >= expected_in,
                300,
            )
            # Late events and bad records, once the watermark has passed them.
            produce_messages(config, _late_and_bad(config))
            wait_for(
                "the late events and bad records to be counted",
                lambda: (
                    sum(b.input_rows for b in logged_batches(job.text()))
                    >= expected_in + LATE_EVENTS + len(BAD_RECORDS)
                ),
                300,
            )
            _wait_for_match(page, env, "the page to match the CLI")
            assert page.evaluate("window.__notReloaded") is True
            assert page.get_attribute("#live-status", "data-status") == "ok"

            # The API returns the documents the CLI prints.
            assert api(base, "/api/routes") == (200, _query(env, "routes"))
            route = page.input_value("#delays-route")
            assert api(base, f"/api/routes/{route}/top-delays") == (
                200,
                _query(env, "top-delays", "--route", route),
            )
            flight = page.get_attribute("#flight-table", "data-flight") or ""
            assert api(base, f"/api/flights/{flight}?limit=12") == (
                200,
                _query(env, "flight", flight, "-n", "12"),
            )
            health = _query(env, "health", "-n", "30")
            api_health = api(base, "/api/health?batches=30")[1]
            assert api_health["batches"] == health["batches"]
            assert api_health["last_batch_id"] == health["last_batch_id"]

            # -- the job's metrics equal the sums of its logged batches --------------------
            job_metrics = scrape(f"http://127.0.0.1:{ports['job']}/metrics")
            assert job_metrics is not None
            last = int(value(job_metrics, "airlines_job_last_batch_id"))
            logged = [b for b in logged_batches(job.text()) if b.batch_id <= last]
            assert [b.batch_id for b in logged] == list(range(last + 1))
            for name, figure in (
                ("airlines_job_batches_total", len(logged)),
                ("airlines_job_input_records_total", sum(b.input_rows for b in logged)),
                ("airlines_job_redis_rows_written_total", sum(b.rows_written for b in logged)),
                ("airlines_job_dead_lettered_records_total", sum(b.dead_lettered for b in logged)),
                ("airlines_job_late_events_total", sum(b.late_events for b in logged)),
                ("airlines_job_duplicate_events_total", sum(b.duplicates for b in logged)),
                ("airlines_job_smoke_markers_total", sum(b.markers for b in logged)),
                ("airlines_job_batch_duration_seconds_count", len(logged)),
            ):
                assert value(job_metrics, name) == figure, name
            assert value(job_metrics, "airlines_job_dead_lettered_records_total") == len(
                BAD_RECORDS
            )
            assert value(job_metrics, "airlines_job_late_events_total") == LATE_EVENTS
            assert value(job_metrics, "airlines_job_input_records_total") == (
                expected_in + LATE_EVENTS + len(BAD_RECORDS)
            )
            assert value(job_metrics, "airlines_job_state_rows") > 0
            assert value(job_metrics, "airlines_job_redis_write_retries_total") >= 0
            assert 0 < value(job_metrics, "airlines_job_watermark_delay_seconds") < 3600

            screenshot = tmp_path / "dashboard.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"dashboard screenshot: {screenshot}")

            # -- a new batch updates the page in place -------------------------------------
            before = int(page.get_attribute("#health-batch", "data-value") or -1)
            produce_messages(config, _fresh_events(config, 20))
            wait_for(
                "a newer batch on the page",
                lambda: (
                    int(page.get_attribute("#health-batch", "data-value") or -1) > before
                    and sum(int(r["events_in_latest"]) for r in _cells(page, "routes-table")) > 0
                ),
                300,
            )
            _wait_for_match(page, env, "the page to match the CLI again")
            assert page.evaluate("window.__notReloaded") is True

            # -- an unknown flight -----------------------------------------------------------
            page.fill("#flight-id", "ZZ999")
            page.click("#flight-form button")
            page.wait_for_selector("#flight-message:not([hidden])")
            assert "No analytics for flight ZZ999" in page.inner_text("#flight-message")
            assert page.is_hidden("#flight-table")

            others = [u for u in requested if not u.startswith(base + "/")]
            assert others == [], f"the page requested something else: {others[:5]}"
            assert blocked == [], f"the page broke its Content-Security-Policy: {blocked[:3]}"

        # -- the API's statuses ----------------------------------------------------------------
        status, body = api(base, "/api/flights/ZZ999")
        assert status == 404
        assert "no analytics for flight 'ZZ999'" in body["detail"]
        assert api(base, "/api/flights/not-a-flight")[0] == 422
        assert api(base, "/api/routes/nowhere/top-delays")[0] == 404
        status, body = api(base, f"/api/routes/{route}/top-delays?window=yesterday")
        assert (status, body["detail"].split(":")[0]) == (422, "window")
        status, schema = api(base, "/api/openapi.json")
        assert status == 200
        assert {"/api/routes", "/api/flights/{flight_id}", "/api/health"} <= set(schema["paths"])

        # -- the dashboard counts the requests it serves ---------------------------------------
        def served() -> float:
            samples = scrape(f"http://127.0.0.1:{ports['dashboard-metrics']}/metrics")
            assert samples is not None
            key = {"path": "/api/routes", "method": "GET", "status": "2xx"}
            return value(samples, "airlines_dashboard_requests_total", **key)

        counted = served()
        for _ in range(3):
            assert api(base, "/api/routes")[0] == 200
        assert served() == counted + 3
    finally:
        for command in reversed(commands):
            command.stop()
