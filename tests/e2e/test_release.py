"""The minikube values on a real cluster: the life of one release, in order.

install → every pod Ready, topics created, Redis Cluster formed, the SparkApplication
RUNNING with its driver and executor → ``helm test`` → Redis equals the oracle over
everything the in-cluster producers sent → RBAC as designed → pod loss (a broker and
the driver) loses and doubles nothing → ``helm upgrade`` (trigger, producer rate)
resumes from the checkpoint → ``helm rollback`` → ``helm uninstall`` keeps only the
PersistentVolumeClaims. Each test builds on the one before (module-scoped release).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e import analytics
from tests.e2e.kube import PRODUCER_IMAGE, VALUES, Kube, wait_until
from tests.e2e.release import REGIONS, Release

from airlines.config.loader import load_config
from airlines.metrics import DASHBOARD_METRICS_PORT
from airlines_testkit.job_log import LoggedBatch, logged_batches
from airlines_testkit.offset_log import CheckpointBatch, batch_phases, caught_up, checkpoint_batches
from airlines_testkit.oracle import config_oracle, differences
from airlines_testkit.services import window_hashes

#: A real cluster on 2 cores: installs and restarts take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)

NAMESPACE = "airlines"
RELEASE = "airlines"
EXECUTORS = 1  # values/minikube.yaml: streaming.executor.instances
#: The CLI of this checkout (the same one the images run).
AIRLINES = str(Path(sys.executable).parent / "airlines")


def delete_namespace(kube: Kube, namespace: str) -> None:
    kube.kubectl(
        "delete",
        "namespace",
        namespace,
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
        timeout=330,
    )


@pytest.fixture(scope="module")
def release(kube: Kube) -> Iterator[Release]:
    """The release, installed once for the module; removed (namespace too) afterwards.

    ``E2E_KEEP_RELEASE=1`` (for working on one test with ``-k``): reuse an installed
    release and leave it installed.
    """
    rel = Release(kube, RELEASE, NAMESPACE, [VALUES / "minikube.yaml"])
    keep = os.environ.get("E2E_KEEP_RELEASE") == "1"
    if not (keep and rel.installed()):
        delete_namespace(kube, NAMESPACE)  # a leftover of an earlier run would change it
        started = time.monotonic()
        rel.install()
        print(f"helm install --wait: {time.monotonic() - started:.0f}s")
    try:
        yield rel
    finally:
        if not keep:
            if rel.installed():
                rel.uninstall()
            delete_namespace(kube, NAMESPACE)


@pytest.fixture(scope="module")
def toolbox(release: Release) -> str:
    analytics.start_toolbox(release.kube, release.name, release.namespace, PRODUCER_IMAGE)
    return analytics.TOOLBOX


def _exec(release: Release, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return analytics.toolbox_run(release.kube, release.namespace, *argv, timeout=timeout)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (the Redis password for the readers)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _checkpoint_dir(release: Release) -> Path:
    """Where the checkpoint claim's volume lives on this machine (local-path)."""
    claim = release.kube.json(
        "-n", release.namespace, "get", "pvc", release.resource("streaming-checkpoints")
    )
    volume = release.kube.json("get", "pv", claim["spec"]["volumeName"])
    return Path(volume["spec"]["hostPath"]["path"]) / "flight-analytics" / "analytics"


def _check_analytics(release: Release, tmp_path: Path) -> dict[str, Any]:
    """Producers stopped: wait for the job to read everything, then Redis == oracle."""
    config = load_config_from(release, tmp_path)
    topics = [t.name for t in config.topics]
    records = analytics.dump_topics(release.kube, release.namespace, topics)
    checkpoint = _checkpoint_dir(release)

    def is_caught_up() -> list[CheckpointBatch] | None:
        batches = checkpoint_batches(checkpoint)
        return batches if caught_up(records, batches) else None

    batches = wait_until("the job has read every record", is_caught_up, 300, interval=5)
    expected = config_oracle(config, batch_phases(records, batches))
    # Every record is aggregated, dead-lettered, late, a duplicate or a smoke marker
    # (helm test's, by key and header).
    assert config.streaming.slide is None
    assert expected.markers == sum(r.is_smoke_marker for r in records) > 0
    assert (
        expected.aggregated_events
        + expected.rejected
        + expected.late_events
        + expected.duplicates
        + expected.markers
        == len(records)
    )
    with release.redis_config(tmp_path, "admin") as (path, env), environment(env):
        # Every window hash in Redis, through the port-forwards (SCAN: the admin's) ...
        actual = window_hashes(load_config(path))
        problems = differences(expected.windows, actual)
        assert not problems, f"{len(problems)} differences, first: {problems[:10]}"
    with release.redis_config(tmp_path, "reader") as (path, env), environment(env):
        # ... and the same numbers through the CLI a user runs (as the read-only user),
        # for a sample of flights.
        flights = sorted({w.flight_id for w in expected.windows.values()})
        for flight in flights[:: max(1, len(flights) // 6)]:
            argv = [AIRLINES, "query", "flight", flight, "--limit", "1000", "--json"]
            done = subprocess.run(
                [*argv, "--config", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            got = {(w["route"], w["window_start_ms"]): w for w in orjson.loads(done.stdout)}
            want = {
                (w.route, w.window_start_ms): w
                for w in expected.windows.values()
                if w.flight_id == flight
            }
            assert set(got) == set(want), flight
            for key, window in want.items():
                assert got[key]["event_count"] == window.event_count
                assert abs(got[key]["avg_ticket_price"] - window.avg_ticket_price) <= 1e-9
                assert abs(got[key]["avg_delay_minutes"] - window.avg_delay_minutes) <= 1e-9
    return {"records": records, "expected": expected, "batches": batches}


def load_config_from(release: Release, tmp_path: Path) -> Any:
    import yaml

    path = tmp_path / "release-config.yaml"
    path.write_text(yaml.safe_dump(release.config_yaml()))
    return load_config(path)


# --- the tests, in order ----------------------------------------------------------------


def test_install_brings_everything_up(release: Release, toolbox: str) -> None:
    assert release.installed()
    driver = release.wait_everything_ready(EXECUTORS)
    # The hook jobs did their work: the topics exist with the configured shape ...
    described = _exec(release, "airlines", "topics", "describe", "--json")
    assert described.returncode == 0, described.stderr
    topics = {t["name"]: t for t in orjson.loads(described.stdout)}
    config = release.config_yaml()
    for topic in config["topics"]:
        assert topic["name"] in topics, sorted(topics)
    # ... and the Redis Cluster is formed: all slots served by 3 primaries with replicas.
    info = release.redis_cli("cluster", "info")
    for expected in (
        "cluster_state:ok",
        "cluster_slots_assigned:16384",
        "cluster_size:3",
        "cluster_known_nodes:6",
    ):
        assert expected in info, info
    # The operator submitted the job: RUNNING, with its driver and executor pods.
    assert driver["metadata"]["labels"]["spark-role"] == "driver"


def test_helm_test_passes(release: Release, toolbox: str) -> None:
    # helm test's analytics check wants a recent batch: wait for the job's heartbeat.
    wait_until(
        "a fresh analytics heartbeat",
        lambda: _exec(release, "airlines", "smoke", "--checks", "analytics").returncode == 0,
        300,
        interval=5,
    )
    out = release.kube.helm("test", release.name, "-n", release.namespace, "--timeout", "10m")
    assert "Phase:          Succeeded" in out, out
    assert "Failed" not in out.split("TEST SUITE")[-1], out


#: Labels of a pod the chart's NetworkPolicies let reach Kafka, Redis and the dashboard
#: (values/minikube.yaml: dashboard.allowedFrom).
CLIENT_LABELS = {
    "app.kubernetes.io/instance": RELEASE,
    "airlines-analytics/kafka-client": "true",
    "airlines-analytics/redis-client": "true",
    "airlines-analytics/dashboard-client": "true",
}
OUTSIDER_NAMESPACE = "e2e-outsider"


def _pod_ip(release: Release, pod: str) -> str:
    return str(release.kube.json("-n", release.namespace, "get", "pod", pod)["status"]["podIP"])


def test_the_namespace_denies_by_default(release: Release) -> None:
    """With the cluster enforcing NetworkPolicies: a pod in another namespace (even with
    the client labels) and a pod of the namespace without them reach neither Kafka, Redis
    nor the dashboard; the same probe from a pod with the client labels reaches all
    three (so the probe and the targets work)."""
    from tests.e2e import netprobe

    kube = release.kube
    (dashboard,) = kube.json(
        "-n", release.namespace, "get", "pods", "-l", release.selector("dashboard")
    )["items"]
    targets = {
        "kafka": (_pod_ip(release, f"{release.resource('kafka')}-0"), 9092),
        "redis": (_pod_ip(release, f"{release.resource('redis-cluster')}-0"), 6379),
        "dashboard": (dashboard["status"]["podIP"], 8050),
    }
    kube.kubectl("create", "namespace", OUTSIDER_NAMESPACE)
    try:
        netprobe.start(kube, "e2e-allowed", release.namespace, CLIENT_LABELS)
        netprobe.start(kube, "e2e-unlabelled", release.namespace, {"app": "e2e-unlabelled"})
        netprobe.start(kube, "e2e-outsider", OUTSIDER_NAMESPACE, CLIENT_LABELS)
        for name, (host, port) in targets.items():
            assert netprobe.reaches(kube, release.namespace, "e2e-allowed", host, port), (
                f"a client of the release cannot reach {name} ({host}:{port})"
            )
            assert not netprobe.reaches(kube, release.namespace, "e2e-unlabelled", host, port), (
                f"a pod without the client labels reaches {name}"
            )
            assert not netprobe.reaches(kube, OUTSIDER_NAMESPACE, "e2e-outsider", host, port), (
                f"a pod of another namespace reaches {name}"
            )
        # The default deny covers egress too: the unlabelled pod reaches no Service but
        # DNS; the allowed one only the ports its labels open (not ZooKeeper, say),
        # though ZooKeeper listens (the brokers use it).
        zookeeper = (_pod_ip(release, f"{release.resource('zookeeper')}-0"), 2181)
        assert not netprobe.reaches(kube, release.namespace, "e2e-allowed", *zookeeper)
    finally:
        netprobe.delete(kube, release.namespace, "e2e-allowed", "e2e-unlabelled")
        kube.kubectl(
            "delete", "namespace", OUTSIDER_NAMESPACE, "--ignore-not-found", "--wait=false",
            check=False,
        )  # fmt: skip


def test_executors_have_no_token_and_the_driver_only_its_pods(release: Release) -> None:
    """The executors (they parse untrusted input) run as an account of their own that
    may do nothing and has no token in the pod; the driver's may run its executors and
    nothing of the start-script ConfigMaps."""
    kube = release.kube
    driver = release.wait_running(EXECUTORS)
    executors = release.running_spark_pods()["executor"]
    assert executors, "no executor running"
    executor_sa = release.resource("spark-executor")
    for pod in executors:
        assert pod["spec"]["serviceAccountName"] == executor_sa
        mounts = [
            m["mountPath"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])
        ]
        assert "/var/run/secrets/kubernetes.io/serviceaccount" not in mounts, mounts
        listing = kube.run(
            ["kubectl", "-n", release.namespace, "exec", pod["metadata"]["name"], "--",
             "ls", "/var/run/secrets/kubernetes.io/serviceaccount"],
            check=False,
        )  # fmt: skip
        assert listing.returncode != 0, listing
        assert "No such file" in listing.stderr, listing
    assert driver["spec"]["serviceAccountName"] == release.resource("spark")
    ns = release.namespace
    for verb, resource in (
        ("create", "pods"), ("get", "pods"), ("list", "pods"), ("watch", "configmaps"),
        ("get", "secrets"), ("create", "services"), ("get", "configmaps"),
    ):  # fmt: skip
        assert not kube.can_i(ns, executor_sa, verb, resource), f"executor may {verb} {resource}"
    spark = release.resource("spark")
    for verb in ("create", "get", "list", "watch", "delete"):
        assert kube.can_i(ns, spark, verb, "pods"), f"driver cannot {verb} pods"
    for component in ("kafka", "zookeeper", "redis-cluster"):
        scripts = [
            cm["metadata"]["name"]
            for cm in kube.json("-n", ns, "get", "configmaps", "-l", release.selector(component))[
                "items"
            ]
        ]
        assert scripts, f"no ConfigMap of {component}"
        for name in scripts:
            for verb in ("patch", "update", "delete", "get"):
                assert not kube.can_i(ns, spark, verb, f"configmaps/{name}"), (
                    f"driver may {verb} configmap {name}"
                )
    for verb, resource in (("create", "configmaps"), ("create", "services"),
                           ("patch", "pods"), ("list", "persistentvolumeclaims")):  # fmt: skip
        assert not kube.can_i(ns, spark, verb, resource), f"driver may {verb} {resource}"


#: Runs in a pod with the Kafka client label and the brokers' CA but no principal's
#: Secret: tries to write one record to an input topic every way it could (no TLS, TLS
#: without SASL, SASL as a made-up user, as a real principal with a guessed password) and
#: prints one line per way: "delivered" or why not.
_INTRUDER = textwrap.dedent(
    """
    import sys
    from confluent_kafka import Producer
    from airlines.config.loader import load_config
    config = load_config("/etc/airlines/config.yaml")
    servers = ",".join(config.kafka.bootstrap_servers)
    topic = config.topics[0].name
    tls = {"ssl.ca.location": "/etc/airlines/kafka-ca/ca.crt"}
    scram = {"sasl.mechanism": "SCRAM-SHA-512"}
    ways = {
        "plaintext": {"security.protocol": "PLAINTEXT"},
        "tls-only": {"security.protocol": "SSL", **tls},
        "made-up-user": {"security.protocol": "SASL_SSL", **tls, **scram,
                         "sasl.username": "intruder", "sasl.password": "intruder-password"},
        "guessed-password": {"security.protocol": "SASL_SSL", **tls, **scram,
                             "sasl.username": "producer-east-coast", "sasl.password": "guess"},
    }
    for name, settings in ways.items():
        outcome = []
        producer = Producer({"bootstrap.servers": servers, "message.timeout.ms": 15000,
                             "socket.timeout.ms": 5000, **settings,
                             "error_cb": lambda e: outcome.append(str(e))})
        delivered = []
        producer.produce(topic, b"intruder", key=b"intruder",
                         on_delivery=lambda err, msg: delivered.append(err))
        producer.flush(30)
        if delivered and delivered[0] is None:
            print(f"{name}: delivered", flush=True)
        else:
            print(f"{name}: refused ({delivered[0] if delivered else outcome[:1]})", flush=True)
    """
)


def test_a_client_without_credentials_cannot_produce(release: Release) -> None:
    """The NetworkPolicy lets any pod of the namespace with the client label reach the
    brokers: the brokers themselves must refuse it."""
    name = "e2e-intruder"
    analytics.start_toolbox(
        release.kube, release.name, release.namespace, PRODUCER_IMAGE, name=name, kafka_user=None
    )
    try:
        out = release.kube.kubectl(
            "-n", release.namespace, "exec", "-i", name, "--", "python", "-",
            stdin=_INTRUDER, timeout=300,
        )  # fmt: skip
    finally:
        release.kube.kubectl(
            "-n", release.namespace, "delete", "pod", name, "--wait=false", "--ignore-not-found"
        )
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert set(lines) == {"plaintext", "tls-only", "made-up-user", "guessed-password"}, out
    assert all(v.startswith("refused") for v in lines.values()), out
    # A real principal's credential is refused nothing of what it may do (helm test wrote
    # as smoke), and nothing the intruder tried reached the topic (the oracle below
    # counts every record of the input topics).


def _refused(reply: str) -> bool:
    """Whether redis-cli's output is Redis refusing the command (an ACL or login error)."""
    return any(word in reply for word in ("NOPERM", "NOAUTH", "WRONGPASS"))


def test_each_redis_user_may_do_only_its_part(release: Release) -> None:
    """Real commands against a node, as each ACL user: the writer writes the analytics
    keys and nothing else, the reader only reads them, neither may FLUSHALL, FLUSHDB,
    CONFIG, DEBUG or KEYS; the default user is off; a client that does not log in gets
    nothing."""
    probe = "aa:e2e:acl-probe"
    try:
        # The writer: its own commands on its own keys ...
        assert release.redis_cli("hset", probe, "f", "1", user="writer").strip() == "1"
        assert release.redis_cli("expire", probe, "600", user="writer").strip() == "1"
        # ... nothing outside the key prefix, no reads it does not need, nothing else.
        assert _refused(release.redis_cli("hset", "e2e:outside", "f", "1", user="writer"))
        assert _refused(release.redis_cli("hgetall", probe, user="writer"))
        for command in (["flushall"], ["flushdb"], ["config", "get", "*"], ["keys", "*"],
                        ["del", probe]):  # fmt: skip
            reply = release.redis_cli(*command, user="writer")
            assert _refused(reply), (command, reply)
        # The reader: reads the analytics keys, writes nothing, flushes nothing.
        assert release.redis_cli("hget", probe, "f", user="reader").strip() == "1"
        denied = [["hset", probe, "f", "2"], ["del", probe], ["expire", probe, "1"],
                  ["flushall"], ["flushdb"], ["config", "get", "*"], ["keys", "*"]]  # fmt: skip
        for command in denied:
            reply = release.redis_cli(*command, user="reader")
            assert _refused(reply), (command, reply)
        # DEBUG is off for every connection; the users' ACL denies it too (ACL DRYRUN).
        for user in ("writer", "reader", "replication"):
            reply = release.redis_cli("acl", "dryrun", user, "debug", "object", probe)
            assert "no permissions to run the 'debug' command" in reply, (user, reply)
        assert release.redis_cli("hget", probe, "f", user="reader").strip() == "1"
        # The replication user replicates, and only that.
        assert _refused(release.redis_cli("hget", probe, "f", user="replication"))
        assert _refused(release.redis_cli("flushall", user="replication"))
        # The default user is off, and a client that does not log in is refused.
        assert _refused(release.redis_cli("ping", user=None))
        assert _refused(release.redis_cli("hget", probe, "f", user=None))
        assert "WRONGPASS" in release.redis_cli("auth", "default", "nopass", user=None)
        # The admin may do what the others may not (CONFIG: the cluster's operator).
        assert "maxmemory" in release.redis_cli("config", "get", "maxmemory", user="admin")
    finally:
        release.redis_cli("del", probe, user="admin")


def test_redis_speaks_only_tls(release: Release) -> None:
    """With TLS (the default), a node answers no plaintext client, on the client port and
    on the cluster bus alike."""
    if not release.redis_tls:
        pytest.skip("this release runs Redis in plaintext (global.redis.tls.enabled=false)")
    assert release.redis_cli("ping", user="admin").strip() == "PONG"
    plaintext = release.redis_cli("ping", user="admin", tls=False)
    assert "PONG" not in plaintext, plaintext
    bus = release.redis_cli("-p", "16379", "ping", user="admin", tls=False)
    assert "PONG" not in bus, bus


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
    result = _check_analytics(release, tmp_path)
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
    logged = _batches(release, driver)
    service = f"svc/{release.resource('streaming-metrics')}"
    with release.kube.port_forward(release.namespace, service, 9108) as port:

        def agrees() -> bool:
            status, body = _get(port, "/metrics")
            assert status == 200, body
            text = body.decode()
            batches = _batches(release, driver)
            return _metric(text, "airlines_job_input_records_total") == sum(
                b.input_rows for b in batches
            )

        wait_until("the job's metrics equal its batch log", agrees, 120, interval=5)
    assert logged, "the driver logged no batch"


# --- RBAC: what each service account may and may not do ------------------------------------

#: (service account component, verb, resource) that must be allowed in the namespace.
ALLOWED = [
    ("spark", "create", "pods"),
    ("spark", "delete", "pods"),
    ("spark", "watch", "pods"),
    ("streaming-apply", "create", "sparkapplications.sparkoperator.k8s.io"),
    # get/patch only its own SparkApplication (resourceNames)
    ("streaming-apply", "patch", "sparkapplications.sparkoperator.k8s.io/{release}-streaming"),
    ("streaming-apply", "get", "sparkapplications.sparkoperator.k8s.io/{release}-streaming"),
    ("streaming-apply", "get", "configmaps/{release}-streaming-app"),
    # the pre-delete hook reads the broker pods, by name (its scale rights: below)
    ("kafka-stop", "get", "pods/{release}-kafka-0"),
]
#: The chart's own service accounts (by component).
ACCOUNTS = (
    "spark", "spark-executor", "producer", "hooks", "test", "streaming-apply", "kafka-stop",
)  # fmt: skip
#: Sample of what no service account of the chart may do.
DENIED = [
    ("get", "secrets", "namespace"),
    ("list", "secrets", "cluster"),
    ("create", "pods", "kube-system"),
    ("list", "pods", "default"),
    ("create", "roles.rbac.authorization.k8s.io", "namespace"),
    ("create", "rolebindings.rbac.authorization.k8s.io", "namespace"),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", "cluster"),
    ("delete", "namespaces", "cluster"),
]


def test_rbac_allows_what_is_needed_and_nothing_more(release: Release) -> None:
    accounts = {
        sa["metadata"]["name"]
        for sa in release.kube.json("-n", release.namespace, "get", "serviceaccounts")["items"]
    }
    ours = {release.resource(c) for c in ACCOUNTS}
    assert ours <= accounts, sorted(ours - accounts)
    for component, verb, pattern in ALLOWED:
        resource = pattern.format(release=release.name)
        assert release.kube.can_i(release.namespace, release.resource(component), verb, resource), (
            f"{component} cannot {verb} {resource}"
        )
    # The CLI pods (producers, hook jobs, helm tests) and the executors need no API access.
    for component in ("producer", "hooks", "test", "spark-executor"):
        for verb, resource in (("get", "pods"), ("get", "configmaps"), ("list", "services")):
            assert not release.kube.can_i(
                release.namespace, release.resource(component), verb, resource
            ), f"{component} may {verb} {resource}"
    # The apply hook touches its one ConfigMap and SparkApplications, nothing else.
    apply_sa = release.resource("streaming-apply")
    assert not release.kube.can_i(
        release.namespace, apply_sa, "delete", "sparkapplications.sparkoperator.k8s.io"
    )
    assert not release.kube.can_i(release.namespace, apply_sa, "create", "pods")
    other = "sparkapplications.sparkoperator.k8s.io/someone-else"
    assert not release.kube.can_i(release.namespace, apply_sa, "patch", other)
    assert not release.kube.can_i(release.namespace, apply_sa, "get", "configmaps/other")
    # The Kafka stop hook sets the brokers' scale and reads their pods, nothing else.
    stop_sa = release.resource("kafka-stop")
    brokers = f"statefulsets.apps/{release.name}-kafka"
    for verb in ("get", "patch"):
        assert release.kube.can_i(release.namespace, stop_sa, verb, brokers, subresource="scale")
    zookeeper = f"statefulsets.apps/{release.name}-zookeeper"
    assert not release.kube.can_i(
        release.namespace, stop_sa, "patch", zookeeper, subresource="scale"
    )
    assert not release.kube.can_i(release.namespace, stop_sa, "delete", brokers)
    assert not release.kube.can_i(
        release.namespace, stop_sa, "delete", f"pods/{release.name}-kafka-0"
    )
    assert not release.kube.can_i(
        release.namespace, stop_sa, "get", f"pods/{release.name}-zookeeper-0"
    )
    # The operator's controller may create what Spark 4.2's spark-submit creates.
    controller = release.resource("spark-operator-controller")
    assert release.kube.can_i(
        release.namespace, controller, "create", "networkpolicies.networking.k8s.io"
    )
    for component in ACCOUNTS:
        account = release.resource(component)
        for verb, resource, scope in DENIED:
            allowed = release.kube.can_i(
                release.namespace,
                account,
                verb,
                resource,
                in_namespace=scope if scope not in ("namespace", "cluster") else None,
                all_namespaces=scope == "cluster",
            )
            assert not allowed, f"{component} may {verb} {resource} ({scope})"


# --- pod loss, upgrade, rollback, uninstall -------------------------------------------------


def _batches(release: Release, driver: dict[str, Any]) -> list[LoggedBatch]:
    return logged_batches(release.driver_log(driver["metadata"]["name"]))


def _wait_batches_with_input(
    release: Release, driver: dict[str, Any], after: int, count: int = 2
) -> list[LoggedBatch]:
    """Wait until ``driver`` has logged ``count`` batches with input after batch ``after``."""

    def probe() -> list[LoggedBatch] | None:
        fresh = [b for b in _batches(release, driver) if b.batch_id > after and b.input_rows]
        return fresh if len(fresh) >= count else None

    return wait_until(f"{count} batches with input after batch {after}", probe, 420, interval=5)


def _new_driver(release: Release, old_uid: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        driver = release.running_spark(EXECUTORS)
        return driver if driver and driver["metadata"]["uid"] != old_uid else None

    return wait_until("a new driver RUNNING", probe, 600, interval=3)


def test_pod_loss_loses_and_doubles_nothing(release: Release, tmp_path: Path) -> None:
    release.start_producers()
    driver = release.wait_running(EXECUTORS)
    before = max((b.batch_id for b in _batches(release, driver)), default=-1)
    _wait_batches_with_input(release, driver, before, count=1)
    broker = f"{release.resource('kafka')}-1"
    broker_uid = release.kube.json("-n", release.namespace, "get", "pod", broker)["metadata"]["uid"]
    # Abrupt losses: a broker with producers writing to it, and the Spark driver.
    release.kube.kubectl(
        "-n", release.namespace, "delete", "pod", broker, "--grace-period=1", "--wait=false"
    )
    release.kube.kubectl(
        "-n",
        release.namespace,
        "delete",
        "pod",
        driver["metadata"]["name"],
        "--grace-period=1",
        "--wait=false",
    )
    wait_until(
        "the broker back and Ready",
        lambda: (
            (pod := release.kube.json("-n", release.namespace, "get", "pod", broker))
            and pod["metadata"]["uid"] != broker_uid
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions", [])
            )
        ),
        300,
        interval=3,
    )
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    resumed = _wait_batches_with_input(release, new_driver, -1, count=2)
    # Resumed from the checkpoint: batch ids go on from where the lost driver was.
    assert resumed[0].batch_id > before, (before, resumed[0])
    release.stop_producers()
    result = _check_analytics(release, tmp_path)
    assert not analytics.delivered_problems(
        result["records"], release.delivered, release.acknowledged
    )


def _kafka_password(release: Release, user: str) -> str:
    import base64

    secret = release.kube.json(
        "-n", release.namespace, "get", "secret", release.resource(f"kafka-user-{user}")
    )
    return base64.b64decode(secret["data"]["password"]).decode()


def test_upgrade_applies_new_config_and_resumes(release: Release, tmp_path: Path) -> None:
    """Also rotates the east-coast producer's password: its pod restarts with the new
    one, the topics hook sets it in Kafka, and the producer reconnects and delivers
    (counted by the reconciliation at the end)."""
    driver = release.wait_running(EXECUTORS)
    last = max((b.batch_id for b in _batches(release, driver)), default=-1)
    old_password = _kafka_password(release, "producer-east-coast")
    unchanged = _kafka_password(release, "producer-west-coast")
    release.kube.helm(
        "upgrade",
        *release.helm_args(
            "--set",
            "global.config.streaming.trigger=10s",
            "--set",
            "global.config.producers.rate=20",
            "--set",
            "global.kafka.credentialGenerations.producer-east-coast=2",
            "--wait",
            "--timeout",
            "15m",
        ),
    )
    config = release.config_yaml()
    assert config["streaming"]["trigger"] == "10s", config["streaming"]
    assert float(config["producers"]["rate"]) == 20.0
    assert _kafka_password(release, "producer-east-coast") != old_password
    assert _kafka_password(release, "producer-west-coast") == unchanged
    # The upgrade set the producers' replicas back to the chart's 1: they run again.
    release.start_producers()
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    wait_until(
        "the upgraded driver says its new trigger",
        lambda: "trigger 10 seconds" in release.driver_log(new_driver["metadata"]["name"]),
        300,
        interval=5,
    )
    resumed = _wait_batches_with_input(release, new_driver, last, count=2)
    assert resumed[0].batch_id > last
    counts = release.stop_producers()
    # The east-coast producer, with its new password, delivered.
    assert counts["east-coast"] > 0, counts
    result = _check_analytics(release, tmp_path)
    assert not analytics.delivered_problems(
        result["records"], release.delivered, release.acknowledged
    )


def test_rollback_restores_the_previous_release(release: Release) -> None:
    driver = release.wait_running(EXECUTORS)
    release.kube.helm(
        "rollback", release.name, "1", "-n", release.namespace, "--wait", "--timeout", "15m"
    )
    history = release.kube.helm("history", release.name, "-n", release.namespace)
    assert "Rollback to 1" in history, history
    assert release.config_yaml()["streaming"]["trigger"] == "30s"
    new_driver = _new_driver(release, driver["metadata"]["uid"])
    wait_until(
        "the rolled-back driver says its trigger",
        lambda: "trigger 30 seconds" in release.driver_log(new_driver["metadata"]["name"]),
        300,
        interval=5,
    )


def test_uninstall_keeps_only_the_claims(release: Release) -> None:
    claims = sorted(
        c["metadata"]["name"]
        for c in release.kube.json("-n", release.namespace, "get", "pvc")["items"]
    )
    assert release.resource("streaming-checkpoints") in claims
    # The test's own pod is not the release's.
    release.kube.kubectl(
        "-n",
        release.namespace,
        "delete",
        "pod",
        analytics.TOOLBOX,
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
    )
    started = datetime.now(UTC).replace(microsecond=0)
    release.uninstall()
    kinds = (
        "pods,deployments,statefulsets,jobs,services,configmaps,secrets,serviceaccounts,"
        "roles,rolebindings,networkpolicies,poddisruptionbudgets,sparkapplications"
    )

    def leftovers() -> list[str]:
        out = release.kube.kubectl("-n", release.namespace, "get", kinds, "-o", "name")
        kept = ("configmap/kube-root-ca.crt", "serviceaccount/default")
        return [name for name in out.split() if name not in kept]

    wait_until(
        "nothing of the release left in the namespace", lambda: not leftovers(), 300, interval=3
    )
    for kind in (
        "clusterroles",
        "clusterrolebindings",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ):
        named = release.kube.kubectl(
            "get", kind, "-l", f"app.kubernetes.io/instance={release.name}", "-o", "name"
        )
        assert not named.strip(), named
    after = sorted(
        c["metadata"]["name"]
        for c in release.kube.json("-n", release.namespace, "get", "pvc")["items"]
    )
    assert after == claims
    # The pre-delete hook scaled the brokers to 0 while ZooKeeper still ran: the
    # StatefulSet controller deleted each broker pod (the garbage collector deletes the
    # pods of a deleted StatefulSet, with no such event), and no ZooKeeper pod.
    brokers = {release.resource(f"kafka-{i}") for i in range(3)}
    wait_until(
        "the StatefulSet controller's events for the brokers' scale-down",
        lambda: brokers <= _scaled_down_since(release, "kafka", started),
        60,
        interval=2,
    )
    assert not _scaled_down_since(release, "zookeeper", started)


def _scaled_down_since(release: Release, component: str, since: datetime) -> set[str]:
    """Pods the StatefulSet controller deleted from ``component``'s set since ``since``."""
    events = release.kube.json(
        "-n",
        release.namespace,
        "get",
        "events",
        "--field-selector",
        f"involvedObject.kind=StatefulSet,involvedObject.name={release.resource(component)},"
        "reason=SuccessfulDelete",
    )["items"]
    deleted = set()
    for event in events:
        stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        found = re.match(
            r"delete Pod (\S+) in StatefulSet", event.get("message", ""), re.IGNORECASE
        )
        if when is not None and when >= since and found:
            deleted.add(found.group(1))
    return deleted
