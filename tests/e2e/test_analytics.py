"""The analytics of the minikube release equal an independent computation over everything
its producers sent (and nothing an intruder tried), read through the admin's and the
reader's Redis users and the CLI; the dashboard's API and the job's metrics show the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e import analytics
from tests.e2e.kube import wait_until
from tests.e2e.lifecycle import (
    AIRLINES,
    EXECUTORS,
    check_analytics,
    environment,
    logged_batches_of,
)
from tests.e2e.release import REGIONS, Release

from airlines.metrics import DASHBOARD_METRICS_PORT

#: A real cluster on 2 cores: installs and restarts take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)


# A real principal's credential is refused nothing of what it may do (helm test wrote
# as smoke), and nothing the intruder tried reached the topic (the oracle below
# counts every record of the input topics).


def test_analytics_equal_the_oracle(release: Release, tmp_path: Path) -> None:
    counts = release.stop_producers()
    assert all(counts[region] > 0 for region in REGIONS), counts
    # What a failed test saves (conftest.py), taken here while everything runs.
    release.save_logs(tmp_path / "logs")
    saved = {p.name: p.read_text() for p in (tmp_path / "logs").iterdir()}
    assert "events.txt" in saved
    # Each pod whose log was saved has its status (restarts' reasons) saved too.
    statuses = {pod["name"]: pod["status"] for pod in yaml.safe_load(saved["pods.yaml"])}
    assert {name.split(".")[0] for name in saved if name.endswith(".log")} <= set(statuses)
    brokers = [text for name, text in saved.items() if name.endswith(".kafka.log")]
    assert len(brokers) == 3
    assert all("started (kafka.server.KafkaServer)" in text for text in brokers)
    result = check_analytics(release, tmp_path)
    # Nothing acknowledged is missing, nothing is there twice.
    assert not analytics.delivered_problems(
        result["records"], release.delivered, release.acknowledged
    )


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _metric(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus' text format."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed:\n{text[:2000]}")


def test_dashboard_and_job_metrics_show_the_same_analytics(
    release: Release, tmp_path: Path
) -> None:
    """Through port-forwards, as a user opens them: the dashboard refuses whoever lacks
    its token (read from its Secret as the notes say) and answers with it; its page and
    API agree with ``airlines query --json``; its /metrics are on their own port; and the
    job's /metrics agree with its own batch log."""
    driver = release.wait_running(EXECUTORS)
    service = f"svc/{release.resource('dashboard')}"
    token = release.dashboard_token()
    bearer = {"Authorization": f"Bearer {token}"}
    with (
        release.redis_config(tmp_path) as (path, env),
        environment(env),
        release.kube.port_forward(release.namespace, service, 80) as port,
    ):
        for refused in ("/", "/api/routes", "/api/events", "/metrics"):
            status, body = _get(port, refused)
            assert status == 401, (refused, body[:200])
        status, body = _get(port, "/api/routes", {"Authorization": "Bearer not-the-token"})
        assert status == 401
        assert _get(port, "/healthz") == (200, b"ok\n")
        status, page = _get(port, "/", bearer)
        assert status == 200
        assert b"<html" in page.lower()
        # Everything the page loads comes from the dashboard itself (no CDN).
        assert b"https://" not in page
        assert b"http://" not in page

        def api_equals_the_cli() -> bool:
            # The job keeps writing: a batch may land between the two reads, so
            # compare again until both read the same batch's figures.
            done = subprocess.run(
                [AIRLINES, "query", "routes", "--json", "--config", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            expected = orjson.loads(done.stdout)
            assert expected, "no analytics to show"
            status, body = _get(port, "/api/routes", bearer)
            assert status == 200, body
            return bool(orjson.loads(body) == expected)

        wait_until("/api/routes equals airlines query routes --json", api_equals_the_cli, 120)
        status, body = _get(port, "/api/flights/ZZ9999", bearer)
        assert status == 404, body
        assert b"ZZ9999" in body
        status, body = _get(port, "/api/flights/NO-SUCH-FLIGHT", bearer)
        assert status == 422, body
        assert b"flight_id" in body
        # The page's port serves no metrics, even to the token's holder.
        assert _get(port, "/metrics", bearer)[0] == 404
    with release.kube.port_forward(release.namespace, service, DASHBOARD_METRICS_PORT) as port:
        status, body = _get(port, "/metrics")
        assert status == 200
        served = {
            (sample.labels["path"], sample.labels["status"])
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name == "airlines_dashboard_requests_total"
        }
        # Counted under the routes' templates, refusals included.
        assert {("/api/routes", "2xx"), ("/api/routes", "4xx")} <= served, served
    logged = logged_batches_of(release, driver)
    service = f"svc/{release.resource('streaming-metrics')}"
    with release.kube.port_forward(release.namespace, service, 9108) as port:

        def agrees() -> bool:
            status, body = _get(port, "/metrics")
            assert status == 200, body
            text = body.decode()
            batches = logged_batches_of(release, driver)
            return _metric(text, "airlines_job_input_records_total") == sum(
                b.input_rows for b in batches
            )

        wait_until("the job's metrics equal its batch log", agrees, 120, interval=5)
    assert logged, "the driver logged no batch"
