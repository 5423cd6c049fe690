"""The dashboard's HTTP surface, against a real `airlines dashboard` process on loopback:
who it lets in, the headers it sends, how many live streams it keeps, where its metrics
are and how many series they can grow to.

No Redis is needed: the dashboard is pointed at a loopback port where nothing listens,
so its API answers 503 (Redis unreachable) once a request is let in, and its event
streams stay open, saying "unavailable", as they do while Redis is down.
"""

from __future__ import annotations

import http.client
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from tests.integration.processes import Command, free_port, scrape, wait_for

from airlines.config import AppConfig, dump_config
from airlines.dashboard.metrics import METHODS
from airlines.dashboard.security import (
    COOKIE,
    SECURITY_HEADERS,
    ensure_token_file,
    session_value,
)

MAX_STREAMS = 3
PER_CLIENT = 2


@dataclass
class Dashboard:
    port: int
    metrics_port: int
    token: str
    command: Command

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        source: str = "127.0.0.1",
        port: int | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", port or self.port, timeout=10, source_address=(source, 0)
        )
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> tuple[http.client.HTTPResponse, bytes]:
        return self.request("GET", path, headers)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        samples = scrape(f"http://127.0.0.1:{self.metrics_port}/metrics")
        assert samples is not None, "the metrics port does not answer"
        return samples


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    tmp = tmp_path_factory.mktemp("dashboard")
    data = AppConfig().model_dump(by_alias=True)
    data["redis"]["nodes"] = [f"127.0.0.1:{free_port()}"]  # nothing listens there
    data["redis"]["passwordEnv"] = None
    data["dashboard"] = {"maxStreams": MAX_STREAMS, "maxStreamsPerClient": PER_CLIENT}
    config = tmp / "config.yaml"
    config.write_text(dump_config(AppConfig.model_validate(data)))
    token_file = tmp / "token"
    assert ensure_token_file(token_file)
    assert token_file.stat().st_mode & 0o777 == 0o600
    port, metrics_port = free_port(), free_port()
    command = Command.start(
        "dashboard",
        [
            "dashboard",
            "--config",
            str(config),
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--token-file",
            str(token_file),
        ],
        tmp / "dashboard.log",
        {"AIRLINES_CACHE": str(tmp / "cache")},
    )
    dash = Dashboard(port, metrics_port, token_file.read_text().strip(), command)
    try:

        def up() -> bool:
            command.check_alive()
            try:
                return dash.get("/healthz")[0].status == 200
            except OSError:
                return False

        wait_for("the dashboard to answer", up, 60)
        yield dash
    finally:
        command.stop()
    log = command.text()
    assert dash.token not in log, "the dashboard logged its token"
    assert "Traceback" not in log, log[-3000:]


GUARDED = ["/", "/static/app.js", "/static/plotly.min.js", "/api/routes", "/api/events"]
GUARDED += ["/api/openapi.json", "/api/flights/DL402", "/readyz", "/metrics", "/no-such-page"]


@pytest.mark.parametrize("path", GUARDED)
def test_everything_but_the_probe_needs_the_token(dashboard: Dashboard, path: str) -> None:
    response, body = dashboard.get(path)
    assert response.status == 401, (path, body[:200])
    assert response.getheader("WWW-Authenticate") == 'Bearer realm="airlines-dashboard"'
    assert b"needs its token" in body
    for wrong in ("Bearer " + secrets.token_urlsafe(32), "Bearer ", "Basic Zm9vOmJhcg=="):
        assert dashboard.get(path, Authorization=wrong)[0].status == 401, (path, wrong)
    wrong_cookie = f"{COOKIE}={session_value(secrets.token_urlsafe(32))}"
    assert dashboard.get(path, Cookie=wrong_cookie)[0].status == 401
    # The token itself is not a session: only the login link turns it into one.
    assert dashboard.get(path, Cookie=f"{COOKIE}={dashboard.token}")[0].status == 401


def test_the_probe_is_open_and_says_nothing_else(dashboard: Dashboard) -> None:
    response, body = dashboard.get("/healthz")
    assert (response.status, body) == (200, b"ok\n")


def test_a_browser_without_the_token_is_told_how_to_get_in(dashboard: Dashboard) -> None:
    response, body = dashboard.get("/", Accept="text/html")
    assert response.status == 401
    assert response.getheader("Content-Type", "").startswith("text/html")
    assert b"/?token=" in body


def test_the_bearer_token_lets_a_client_in(dashboard: Dashboard) -> None:
    response, body = dashboard.get("/api/routes", **dashboard.bearer)
    assert response.status == 503  # in, and Redis is down
    assert b"Redis is unreachable" in body
    assert dashboard.get("/", **dashboard.bearer)[0].status == 200
    assert dashboard.get("/static/app.js", **dashboard.bearer)[0].status == 200


def test_the_login_link_sets_a_session_cookie_and_drops_the_token(dashboard: Dashboard) -> None:
    response, _ = dashboard.get(f"/?token={dashboard.token}&window=latest")
    assert response.status == 303
    assert response.getheader("Location") == "/?window=latest"
    cookie = SimpleCookie(response.getheader("Set-Cookie") or "")[COOKIE]
    assert cookie.value == session_value(dashboard.token) != dashboard.token
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/"
    session = f"{COOKIE}={cookie.value}"
    assert dashboard.get("/", Cookie=session)[0].status == 200
    assert dashboard.get("/api/health", Cookie=session)[0].status == 503
    assert cookie["secure"] == ""  # plain HTTP: a Secure cookie would never come back
    # Behind a TLS-terminating proxy, the cookie is for HTTPS only.
    response, _ = dashboard.get(f"/?token={dashboard.token}", **{"X-Forwarded-Proto": "https"})
    assert SimpleCookie(response.getheader("Set-Cookie") or "")[COOKIE]["secure"] is True
    # A wrong token in the link is refused, and sets nothing.
    response, _ = dashboard.get(f"/?token={secrets.token_urlsafe(32)}")
    assert response.status == 401
    assert response.getheader("Set-Cookie") is None


@pytest.mark.parametrize(
    ("path", "status", "auth"),
    [
        ("/", 200, True),
        ("/api/routes", 503, True),
        ("/api/nowhere", 404, True),
        ("/api/flights/not-a-flight", 422, True),
        ("/", 401, False),
        ("/healthz", 200, False),
    ],
)
def test_every_answer_carries_the_security_headers(
    dashboard: Dashboard, path: str, status: int, auth: bool
) -> None:
    response, _ = dashboard.get(path, **(dashboard.bearer if auth else {}))
    assert response.status == status
    for name, value in SECURITY_HEADERS.items():
        assert response.getheader(name) == value, (path, name)
    policy = response.getheader("Content-Security-Policy") or ""
    assert "frame-ancestors 'none'" in policy
    script = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert script == "script-src 'self'", "no inline or eval'd script"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Server") is None


def test_metrics_are_on_their_own_port_only(dashboard: Dashboard) -> None:
    response, body = dashboard.get("/metrics", **dashboard.bearer)
    assert response.status == 404, "the page's port serves no metrics"
    response, body = dashboard.request("GET", "/metrics", port=dashboard.metrics_port)
    assert response.status == 200
    assert b"airlines_dashboard_requests_total" in body
    # ... and the metrics port serves no page, no API: only the metrics, whatever the path.
    for path in ("/", "/api/routes"):
        response, body = dashboard.request("GET", path, port=dashboard.metrics_port)
        assert body.startswith(b"# HELP airlines_dashboard_"), (path, body[:100])


def _open_stream(
    dashboard: Dashboard, source: str
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", dashboard.port, timeout=10, source_address=(source, 0)
    )
    conn.request("GET", "/api/events", headers=dashboard.bearer)
    return conn, conn.getresponse()


def test_live_streams_are_bounded_per_client_and_in_total(dashboard: Dashboard) -> None:
    open_: list[http.client.HTTPConnection] = []

    def live() -> float:
        return dashboard.metrics()[("airlines_dashboard_live_streams", ())]

    try:
        for _ in range(PER_CLIENT):
            conn, response = _open_stream(dashboard, "127.0.0.1")
            open_.append(conn)
            assert response.status == 200
            assert response.readline() == b"retry: 3000\n"
        # A third from the same client: refused, with when to try again.
        conn, response = _open_stream(dashboard, "127.0.0.1")
        assert response.status == 429
        assert response.getheader("Retry-After") == "30"
        assert b"from this client" in response.read()
        conn.close()
        # Another client gets one, up to the total ...
        conn, response = _open_stream(dashboard, "127.0.0.2")
        open_.append(conn)
        assert response.status == 200
        assert live() == MAX_STREAMS
        # ... then nobody does.
        conn, response = _open_stream(dashboard, "127.0.0.3")
        assert response.status == 429
        assert b"too many live streams (3 open)" in response.read()
        conn.close()
        refused = dashboard.metrics()[("airlines_dashboard_streams_refused_total", ())]
        assert refused >= 2
        # A client that goes frees its slot.
        open_.pop(0).close()
        wait_for("the closed stream's slot to be freed", lambda: live() == MAX_STREAMS - 1, 20)
        conn, response = _open_stream(dashboard, "127.0.0.3")
        open_.append(conn)
        assert response.status == 200
    finally:
        for conn in open_:
            conn.close()
    wait_for("every stream to be released", lambda: live() == 0, 20)


def test_metric_labels_come_from_fixed_sets(dashboard: Dashboard) -> None:
    """Whatever a client sends (odd methods, made-up paths, ids), the label values stay
    within fixed sets: no series per method name, path or flight id."""
    odd_methods = ["BREW", "PROPFIND", "X" * 40, "get"]
    for method in odd_methods:
        dashboard.request(method, "/api/routes", dashboard.bearer)
        dashboard.request(method, f"/{secrets.token_hex(8)}")
    for _ in range(5):
        dashboard.get(f"/api/flights/ZZ{secrets.randbelow(9999)}", **dashboard.bearer)
        dashboard.get(f"/{secrets.token_hex(8)}/{secrets.token_hex(4)}", **dashboard.bearer)
        dashboard.get(f"/static/{secrets.token_hex(6)}.js", **dashboard.bearer)
    samples = dashboard.metrics()
    series = [
        dict(labels) for (name, labels) in samples if name.startswith("airlines_dashboard_request")
    ]
    assert series
    methods = {s["method"] for s in series}
    paths = {s["path"] for s in series}
    statuses = {s["status"] for s in series if "status" in s}
    assert methods <= METHODS | {"other"}, methods
    assert "other" in methods
    assert paths <= {
        "/",
        "/healthz",
        "/readyz",
        "/static/{name}",
        "/api/openapi.json",
        "/api/routes",
        "/api/routes/{route}/windows",
        "/api/routes/{route}/top-delays",
        "/api/flights/{flight_id}",
        "/api/health",
        "/api/events",
        "other",
    }, paths
    assert "/api/flights/{flight_id}" in paths
    assert statuses <= {"1xx", "2xx", "3xx", "4xx", "5xx"}, statuses
    # A request refused before routing (401) still counts under its route's template
    # (/api/health answers 503 to those let in: Redis is down).
    assert dashboard.get("/api/health")[0].status == 401
    assert dashboard.get("/api/flights/DL402")[0].status == 401
    samples = dashboard.metrics()
    for template in ("/api/health", "/api/flights/{flight_id}"):
        labels = (("method", "GET"), ("path", template), ("status", "4xx"))
        assert samples.get(("airlines_dashboard_requests_total", labels), 0) >= 1, template


def test_an_open_dashboard_needs_allow_insecure(tmp_path: Path) -> None:
    from tests.integration.processes import free_port as port

    from airlines_testkit.stack import run_cli

    result = run_cli("dashboard", "--auth", "none", "--port", str(port()))
    assert result.returncode != 0
    assert "--auth none: needs --allow-insecure" in result.stderr


def test_a_short_token_file_is_refused(tmp_path: Path) -> None:
    from airlines_testkit.stack import run_cli

    short = tmp_path / "token"
    short.write_text("abc\n")
    result = run_cli("dashboard", "--token-file", str(short), "--port", str(free_port()))
    assert result.returncode != 0
    assert "--token-file:" in result.stderr
    assert "at least 16" in result.stderr
