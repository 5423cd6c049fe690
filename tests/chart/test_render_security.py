"""What the rendered chart lets each part do: Redis and Kafka users, pod security, roles,
network policies, and where secrets may appear (never in a ConfigMap or a command line).

Renders of the defaults and of every values/*.yaml, as in test_render.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.chart.conftest import chart_values_of, namespace_of
from tests.chart.helm import RELEASE
from tests.chart.manifests import by_kind, containers, pod_specs, selects, with_carried

from airlines.config import load_config
from airlines.config.chart.app_config import ChartAppConfig

pytestmark = pytest.mark.chart


def _redis_mounts(volumes: list[dict[str, Any]]) -> tuple[str | None, str | None, str | None]:
    """What a pod's config volume carries for Redis: the ConfigMap key it mounts as
    config.yaml (None: the plain config), the Secret of its password and of its CA."""
    (volume,) = [v for v in volumes if v["name"] == "config"]
    if "configMap" in volume:
        return None, None, None
    key = secret = ca = None
    for source in volume["projected"]["sources"]:
        if "configMap" in source:
            items = source["configMap"].get("items", [])
            key = items[0]["key"] if items else None
        for item in source.get("secret", {}).get("items", []):
            if item["path"] == "redis/password":
                secret = source["secret"]["name"]
            if item["path"] == "redis-ca/ca.crt":
                ca = source["secret"]["name"]
    return key, secret, ca


def test_every_redis_client_is_its_own_user(env: str, docs: list[dict[str, Any]]) -> None:
    """The streaming job (driver and executors) is the writer, the dashboard the reader,
    the bootstrap hook and helm test the admin: each mounts its user's config (which names
    the user and the password file), its user's Secret and the CA, and nothing else does."""
    values = chart_values_of(env)
    (config_map,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    seen: dict[str, tuple[str | None, str | None, str | None]] = {}
    for pod in pod_specs(docs):
        volumes = pod.spec.get("volumes", [])
        if pod.spark:
            (app,) = by_kind(docs, "SparkApplication")
            volumes = app["spec"]["volumes"]
        if any(v["name"] == "config" for v in volumes):
            seen[pod.where] = _redis_mounts(volumes)
    tls = values.global_.redis.tls.enabled
    ca = f"{RELEASE}-redis-tls" if tls else None
    users = {
        "SparkApplication/rel-streaming/driver": "writer",
        "SparkApplication/rel-streaming/executor": "writer",
        "Deployment/rel-dashboard": "reader",
        "Job/rel-redis-bootstrap": "admin",
        **{w: "admin" for w in seen if w.startswith("Pod/rel-test-")},
    }
    for where, (key, secret, their_ca) in seen.items():
        user = users.get(where)
        if user is None:
            assert (key, secret) == (None, None), where
            continue
        assert key == f"config-redis-{user}.yaml", where
        assert secret == f"{RELEASE}-redis-user-{user}", where
        assert their_ca == ca, where
        text = config_map["data"][key]
        redis = yaml.safe_load(text)["redis"]
        assert redis["username"] == user
        assert redis["passwordFile"] == "/etc/airlines/redis/password"
        assert redis["passwordEnv"] is None
        want_tls = {"caFile": "/etc/airlines/redis-ca/ca.crt", "certFile": None, "keyFile": None}
        assert redis.get("tls") == (want_tls if tls else None)
        assert ChartAppConfig.model_validate(yaml.safe_load(text)) == (
            values.redis_client_config(RELEASE, namespace_of(env), user)
        )
    assert set(users) <= set(seen)


def test_redis_user_configs_load(docs: list[dict[str, Any]], tmp_path: Path) -> None:
    """Each Redis user's config loads as the pods load it (airlines.config.load_config)."""
    (config_map,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config")
    ]
    for user in ("writer", "reader", "admin"):
        path = tmp_path / f"{user}.yaml"
        path.write_text(config_map["data"][f"config-redis-{user}.yaml"], encoding="utf-8")
        assert load_config(path).redis.username == user


def test_the_redis_nodes_turn_the_default_user_off(docs: list[dict[str, Any]]) -> None:
    """The nodes' start writes every ACL user from the mounted Secret files (hashes only),
    the default user off, the replicas' masteruser; TLS on the usual ports."""
    (scripts,) = [
        d
        for d in by_kind(docs, "ConfigMap")
        if d["metadata"]["name"].endswith("-redis-cluster-scripts")
    ]
    start = scripts["data"]["start.sh"]
    assert 'echo "user default off resetpass resetkeys resetchannels -@all"' in start
    for user in ("writer", "reader", "admin", "replication"):
        assert f"user {user} on #$(hash_of {user})" in start
    assert "masteruser replication" in start
    for denied in ("flushall", "flushdb", "config", "debug", "keys"):
        for user in ("writer", "reader", "replication"):
            (line,) = [x for x in start.splitlines() if f"user {user} on" in x]
            assert "-@all" in line, user
            assert f"+{denied}" not in line.split(), (user, denied)
    lines = {line.strip() for line in start.splitlines()}
    assert {"port 0", "tls-port 6379", "tls-replication yes", "tls-cluster yes"} <= lines


#: Pods that call the Kubernetes API, so mount a service-account token: the Spark driver
#: (executor pods), the hook applying the SparkApplication and the one stopping Kafka.
API_CLIENTS = {"spark", "streaming-apply", "kafka-stop"}


def test_pods_are_locked_down(docs: list[dict[str, Any]]) -> None:
    """Non-root, seccomp, no privilege escalation, drop ALL, read-only root, resources,
    pinned images; a service-account token only where the API is used (Spark driver, the
    SparkApplication's apply hook, the hook stopping Kafka before an uninstall)."""
    accounts = {a["metadata"]["name"]: a for a in by_kind(docs, "ServiceAccount")}
    for pod in pod_specs(docs):
        pod_security = pod.spec["podSecurityContext" if pod.spark else "securityContext"]
        assert pod_security["runAsNonRoot"] is True, pod.where
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", pod.where
        for container in containers(pod):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, pod.where
            assert security["capabilities"]["drop"] == ["ALL"], pod.where
            assert security["readOnlyRootFilesystem"] is True, pod.where
            if not pod.spark:
                image = container["image"]
                assert ":" in image.rsplit("/", 1)[-1], image
                assert not image.endswith(":latest"), image
                for kind in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(container["resources"][kind]), pod.where
            else:
                assert {"cores", "coreLimit", "memory"} <= set(container), pod.where
        if not pod.spark:
            account = accounts[pod.spec["serviceAccountName"]]
            token = pod.spec.get(
                "automountServiceAccountToken", account.get("automountServiceAccountToken")
            )
            needed = account["metadata"]["labels"]["app.kubernetes.io/name"] in API_CLIENTS
            assert token is needed, (
                f"{pod.where}: mounts a service-account token it does not need"
                if token
                else f"{pod.where}: calls the API without a token"
            )
    with_token = {
        a["metadata"]["labels"]["app.kubernetes.io/name"]
        for a in accounts.values()
        if a.get("automountServiceAccountToken") is not False
    }
    # (the Kafka stop hook's account mounts none by default: only its Job's pod does)
    assert with_token <= API_CLIENTS


def _role(docs: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    (role,) = [r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith(suffix)]
    return role


def _binding_subjects(docs: list[dict[str, Any]], role: dict[str, Any]) -> list[str]:
    (binding,) = [
        b for b in by_kind(docs, "RoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert binding["roleRef"]["kind"] == "Role"
    return [s["name"] for s in binding["subjects"]]


def test_spark_driver_role_is_least_privilege(docs: list[dict[str, Any]]) -> None:
    # the driver's, the apply hook's, the Kafka stop hook's, the operator controller's
    # NetworkPolicy grant
    assert len(by_kind(docs, "Role")) == 4
    role = _role(docs, "-spark-driver")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        assert "*" not in rule["resources"]
        assert rule["apiGroups"] == [""]
    # Its executor pods only: no ConfigMap (the start scripts of Kafka, ZooKeeper and
    # Redis are ConfigMaps), no Service, no claim.
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["get", "list", "watch", "create", "delete", "deletecollection"],
        }
    ]
    (app,) = by_kind(docs, "SparkApplication")
    conf = app["spec"]["sparkConf"]
    assert conf["spark.kubernetes.executor.disableConfigMap"] == "true"
    assert conf["spark.kubernetes.driver.ownPersistentVolumeClaim"] == "false"
    assert conf["spark.kubernetes.driver.reusePersistentVolumeClaim"] == "false"
    assert _binding_subjects(docs, role) == [
        a["metadata"]["name"]
        for a in by_kind(docs, "ServiceAccount")
        if a["metadata"]["name"].endswith("-spark")
    ]


def test_apply_hook_role_is_least_privilege(docs: list[dict[str, Any]]) -> None:
    """The hook may read its one ConfigMap, and read, create and patch (server-side
    apply) the one SparkApplication it carries: the names its Job and the manifest use."""
    (job,) = [j for j in by_kind(docs, "Job") if j["metadata"]["name"].endswith("-streaming-apply")]
    (app,) = by_kind(docs, "SparkApplication")
    pod = job["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    owner = args[args.index("--owner-configmap") + 1]
    role = _role(docs, "-streaming-apply")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [owner],
            "verbs": ["get"],
        },
        {
            "apiGroups": ["sparkoperator.k8s.io"],
            "resources": ["sparkapplications"],
            "resourceNames": [app["metadata"]["name"]],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": ["sparkoperator.k8s.io"],
            "resources": ["sparkapplications"],
            "verbs": ["create"],
        },
    ]
    assert _binding_subjects(docs, role) == [pod["serviceAccountName"]]
    assert by_kind(docs, "ClusterRole") == by_kind(docs, "ClusterRoleBinding") == []


def test_kafka_stop_hook_role_is_least_privilege(docs: list[dict[str, Any]]) -> None:
    """The pre-delete hook may read and set the scale of the one StatefulSet its Job
    names, and read exactly that StatefulSet's pods: as many as it has replicas."""
    (job,) = [j for j in by_kind(docs, "Job") if j["metadata"]["name"].endswith("-kafka-stop")]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    pod = job["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[:2] == ["k8s", "stop-statefulset"]
    assert "--best-effort" in args
    (brokers,) = [s for s in by_kind(docs, "StatefulSet") if s["metadata"]["name"] == args[2]]
    replicas = brokers["spec"]["replicas"]
    role = _role(docs, "-kafka-stop")
    assert role["rules"] == [
        {
            "apiGroups": ["apps"],
            "resources": ["statefulsets/scale"],
            "resourceNames": [args[2]],
            "verbs": ["get", "patch"],
        },
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "resourceNames": [f"{args[2]}-{i}" for i in range(replicas)],
            "verbs": ["get"],
        },
    ]
    assert _binding_subjects(docs, role) == [pod["serviceAccountName"]]


def test_every_pod_is_covered_by_a_network_policy_and_stateful_sets_by_a_pdb(
    docs: list[dict[str, Any]],
) -> None:
    policies = [
        p["spec"]["podSelector"].get("matchLabels", {}) for p in by_kind(docs, "NetworkPolicy")
    ]
    for pod in pod_specs(docs):
        assert any(selects(sel, pod.labels) for sel in policies), f"{pod.where}: no NetworkPolicy"
    budgets = [b["spec"]["selector"]["matchLabels"] for b in by_kind(docs, "PodDisruptionBudget")]
    for stateful in by_kind(docs, "StatefulSet"):
        labels = stateful["spec"]["template"]["metadata"]["labels"]
        if stateful["spec"]["replicas"] > 1:
            assert any(selects(sel, labels) for sel in budgets), stateful["metadata"]["name"]


def _egress_ports(docs: list[dict[str, Any]], labels: dict[str, str]) -> set[int | None]:
    """Ports the egress rules of the policies selecting ``labels`` open (None: any)."""
    ports: set[int | None] = set()
    for policy in by_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" not in spec["policyTypes"]:
            continue
        if not selects(spec["podSelector"].get("matchLabels", {}), labels):
            continue
        for rule in spec.get("egress", []):
            ports |= {p.get("port") for p in rule.get("ports", [{}])}
    return ports


def test_the_namespace_denies_by_default_and_opens_each_flow(
    docs: list[dict[str, Any]],
) -> None:
    """A default deny of ingress and egress selects every pod; each pod's egress opens
    DNS and exactly the servers it talks to: API clients the API server, the executors
    not; Kafka's and Redis' clients their ports, others not."""
    (deny,) = [
        p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"].endswith("-default-deny")
    ]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for pod in pod_specs(docs):
        ports = _egress_ports(docs, pod.labels)
        assert 53 in ports, f"{pod.where}: no DNS"
        kafka = pod.labels.get("airlines-analytics/kafka-client") == "true"
        redis = pod.labels.get("airlines-analytics/redis-client") == "true"
        assert (9092 in ports) is kafka or pod.labels["app.kubernetes.io/name"] == "kafka", (
            pod.where
        )
        assert (6379 in ports) is redis or pod.labels["app.kubernetes.io/name"] in (
            "redis-cluster",
        ), pod.where
        name = pod.labels["app.kubernetes.io/name"]
        api = pod.labels.get("airlines-analytics/api-client") == "true" or name == "spark-operator"
        if name != "streaming-apply":  # its own policy (streaming chart)
            assert (6443 in ports) is api, f"{pod.where}: API egress {6443 in ports}"
        if pod.spark:
            role = pod.labels["airlines-analytics/spark-role"]
            assert api is (role == "driver"), pod.where


def test_clients_are_let_in(docs: list[dict[str, Any]]) -> None:
    """Each pod that the config points at Kafka/Redis carries the client label the
    server's NetworkPolicy admits."""
    policies = {p["metadata"]["name"]: p for p in by_kind(docs, "NetworkPolicy")}
    kafka = next(p for n, p in policies.items() if n.endswith("-kafka"))
    admitted = kafka["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    clients = [
        p
        for p in pod_specs(docs)
        if ("producer" in p.where or "streaming" in p.where or "kafka-topics" in p.where)
        and "streaming-apply" not in p.where  # talks to the API server only
    ]
    assert clients
    for pod in clients:
        assert selects(admitted, pod.labels), f"{pod.where} cannot reach Kafka"


#: What each kind of Secret the chart renders holds, by its name.
SECRET_KEYS: list[tuple[Callable[[str], bool], set[str]]] = [
    # One Redis ACL user, or one Kafka principal: its user name and password.
    (lambda name: "-redis-user-" in name, {"username", "password"}),
    (lambda name: "-kafka-user-" in name, {"username", "password"}),
    # The chart's CAs: certificate and key (only the nodes' init containers mount the key).
    (lambda name: name.endswith("-redis-tls"), {"ca.crt", "ca.key"}),
    (lambda name: name.endswith("-kafka-tls"), {"ca.crt", "ca.key"}),
    # The dashboard's own token (who may open it).
    (lambda name: name.endswith("-dashboard-auth"), {"token"}),
    (lambda name: name.endswith("-zookeeper-auth"), {"kafka-password", "quorum-password"}),
]


def test_config_maps_hold_no_secrets(docs: list[dict[str, Any]]) -> None:
    from airlines.config.chart.documents import secret_like_keys

    for config_map in by_kind(docs, "ConfigMap"):
        for key, text in config_map.get("data", {}).items():
            if key.endswith(".yaml"):
                found = secret_like_keys(yaml.safe_load(text))
                # A volume's `secret:` names a Secret (the SparkApplication's volumes).
                found = [k for k in found if not re.search(r"volumes\[\d+\]\..*secret$", k)]
                assert found == [], config_map["metadata"]["name"]
    for secret in by_kind(docs, "Secret"):
        name = secret["metadata"]["name"]
        if name.endswith("-webhook-certs"):
            # The Spark Operator's webhook writes its own certificate into it at run time.
            assert not secret.get("data"), name
            continue
        keys = next((keys for match, keys in SECRET_KEYS if match(name)), None)
        assert keys is not None, f"unexpected Secret {name}"
        assert set(secret["data"]) == keys, name


def test_no_secret_value_in_a_config_map_or_a_command_line(docs: list[dict[str, Any]]) -> None:
    """Every generated password and key reaches its pods as a mounted file or a
    secret-backed variable: none is in a ConfigMap, an argument or a plain variable."""
    import base64

    values = {
        base64.b64decode(value).decode()
        for secret in by_kind(docs, "Secret")
        for value in (secret.get("data") or {}).values()
    }
    values = {v for v in values if len(v) >= 16}
    assert len(values) >= 8
    for config_map in by_kind(docs, "ConfigMap"):
        text = yaml.safe_dump(config_map.get("data", {}))
        assert not [v for v in values if v in text], config_map["metadata"]["name"]
    for pod in pod_specs(with_carried(docs)):
        for container in containers(pod):
            words = [*container.get("command", []), *container.get("args", [])]
            words += [str(env.get("value", "")) for env in container.get("env", [])]
            text = "\n".join(words)
            assert not [v for v in values if v in text], container["name"]


# --- Kafka security -------------------------------------------------------------------------


def _kafka_principal(pod_volumes: list[dict[str, Any]], name: str = "config") -> str | None:
    """The Kafka principal whose Secret a pod's config volume carries (None: no Kafka)."""
    (volume,) = [v for v in pod_volumes if v["name"] == name]
    for source in volume.get("projected", {}).get("sources", []):
        items = source.get("secret", {}).get("items", [])
        if any(i["path"] == "kafka/password" for i in items):
            secret = source["secret"]["name"]
            assert secret.startswith("rel-kafka-user-") or "-kafka-user-" in secret
            return str(secret.split("-kafka-user-", 1)[1])
    return None


def test_every_kafka_client_is_its_own_principal(env: str, docs: list[dict[str, Any]]) -> None:
    """Each component mounts ITS principal's Secret (and the CA) where the config's
    kafka.security names the files; the topics hook applies everyone's as the admin."""
    from airlines.kafka.principals import principal_users

    values = chart_values_of(env)
    config = values.app_config("rel", namespace_of(env))
    seen: dict[str, str | None] = {}
    for pod in pod_specs(docs):
        volumes = pod.spec.get("volumes", [])
        if pod.spark:
            (app,) = by_kind(docs, "SparkApplication")
            volumes = app["spec"]["volumes"]
        if any(v["name"] == "config" for v in volumes):
            seen[pod.where] = _kafka_principal(volumes)
    producers = {w: u for w, u in seen.items() if "-producer-" in w}
    assert producers
    assert all(user == w.rsplit("rel-", 1)[1] for w, user in producers.items()), producers
    assert seen["Job/rel-kafka-topics"] == "topics"
    assert {u for w, u in seen.items() if w.startswith("Pod/rel-test-")} == {"smoke"}
    assert seen["SparkApplication/rel-streaming/driver"] == "streaming"
    assert seen["SparkApplication/rel-streaming/executor"] == "streaming"
    assert seen["Deployment/rel-dashboard"] is None  # Redis only
    (job,) = [d for d in by_kind(docs, "Job") if d["metadata"]["name"] == "rel-kafka-topics"]
    volumes = job["spec"]["template"]["spec"]["volumes"]
    assert _kafka_principal(volumes, "config-admin") == "admin"
    (principals,) = [v for v in volumes if v["name"] == "principals"]
    paths = [s["secret"]["items"][0]["path"] for s in principals["projected"]["sources"]]
    assert paths == [f"{user}/password" for user in principal_users(config)]
    security = config.kafka.security
    assert security.protocol == "SASL_SSL"
    assert security.sasl is not None
    assert security.sasl.mechanism == "SCRAM-SHA-512"


def test_no_listener_is_plaintext(docs: list[dict[str, Any]]) -> None:
    """Every values file: both listeners SASL_SSL, the authorizer on, nothing open."""
    (scripts,) = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == "rel-kafka-scripts"
    ]
    start = scripts["data"]["start.sh"]
    (mapping,) = re.findall(r"^listener\.security\.protocol\.map=(.*)$", start, re.M)
    assert mapping == "CLIENT:SASL_SSL,BROKER:SASL_SSL"
    assert "PLAINTEXT" not in start
    assert "allow.everyone.if.no.acl.found=false" in start
    assert re.search(r"^super\.users=User:broker;User:admin$", start, re.M)


def test_brokers_certificate_chains_to_the_ca_helm_generated(
    env: str, docs: list[dict[str, Any]]
) -> None:
    """What each broker's init container does with the CA Helm's genCA made (PKCS#1 key,
    a subject key identifier of Go's): a certificate for the broker's name that verifies
    against that CA, its authority key id the CA's own (the JDK builds no path
    otherwise), its key PKCS#8 (the only form the brokers' PEM key store reads)."""
    import base64

    from cryptography import x509

    from airlines.tls import KeyPair, issue

    (secret,) = [d for d in by_kind(docs, "Secret") if d["metadata"]["name"] == "rel-kafka-tls"]
    ca = KeyPair(*(base64.b64decode(secret["data"][k]).decode() for k in ("ca.crt", "ca.key")))
    assert "BEGIN RSA PRIVATE KEY" in ca.key  # PKCS#1: why the init container exists
    pair = issue(ca, "rel-kafka-0", dns_names=["rel-kafka-0.rel-kafka-headless"])
    assert pair.key.startswith("-----BEGIN PRIVATE KEY-----")
    cert = x509.load_pem_x509_certificate(pair.cert.encode())
    ca_cert = x509.load_pem_x509_certificate(ca.cert.encode())
    cert.verify_directly_issued_by(ca_cert)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
