"""Least privilege on a cluster that enforces NetworkPolicies: the namespace denies by
default, the executors have no token and the driver only its pods, a Kafka client without
credentials is refused, each Redis user may do only its part over TLS only, and each
service account may do what it needs and nothing more."""

from __future__ import annotations

import textwrap

import pytest
from tests.e2e import analytics
from tests.e2e.kube import PRODUCER_IMAGE
from tests.e2e.lifecycle import (
    EXECUTORS,
    RELEASE,
)
from tests.e2e.release import Release

#: A real cluster on 2 cores: installs and restarts take minutes, not seconds.
pytestmark = pytest.mark.timeout(1800)


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
