"""The oracle on the real cluster: what Redis must hold, from what Kafka holds.

Inputs, read independently of the job's output:

* every record of the input topics, read back from Kafka by a toolbox pod (the
  project's CLI image, in the release's namespace) — topic, partition, offset, key,
  value;
* which offsets each micro-batch read: Spark's own offset log in the job's checkpoint
  (``<checkpoint>/analytics/offsets/<batch>``, committed when ``commits/<batch>``
  exists), read from the checkpoint volume on this machine (local-path keeps it in a
  directory of the node).

From those (:func:`airlines_testkit.offset_log.checkpoint_batches` and
:func:`~airlines_testkit.offset_log.batch_phases`), :func:`airlines_testkit.oracle.oracle`
recomputes every window in plain Python, the watermark included (a batch's watermark
comes from the batches before it), so even events a broker or driver restart made late
are accounted for exactly.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from typing import Any

import yaml
from tests.e2e.kube import Kube

from airlines.produce.publisher import PartitionAcks
from airlines_testkit.offset_log import SourceRecord

TOOLBOX = "e2e-toolbox"

#: Runs in the toolbox pod: every record of the given topics, from the start to the
#: high watermark at the time of the call, as JSON lines.
_DUMP = textwrap.dedent(
    """
    import base64, json, sys
    from confluent_kafka import Consumer, TopicPartition
    from airlines.config.loader import load_config
    from airlines.kafka.settings import librdkafka_settings
    config = load_config("/etc/airlines/config.yaml")
    consumer = Consumer({
        **librdkafka_settings(config.kafka),
        "group.id": "e2e-dump", "enable.auto.commit": False,
        "enable.partition.eof": True, "isolation.level": "read_committed",
    })
    topics = sys.argv[1:]
    metadata = consumer.list_topics(timeout=30)
    parts = []
    for topic in topics:
        for p in metadata.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            if high > low:
                parts.append((topic, p, low, high))
    consumer.assign([TopicPartition(t, p, low) for t, p, low, _ in parts])
    remaining = {(t, p): high for t, p, _, high in parts}
    # A fetch retried after a leader change may hand back records already read:
    # write each offset once, in order.
    following = {(t, p): low for t, p, low, _ in parts}
    again = 0
    out = sys.stdout
    while remaining:
        msg = consumer.poll(10)
        if msg is None:
            raise SystemExit(f"no progress; still waiting for {sorted(remaining)}")
        if msg.error():
            if msg.error().code() == -191:  # partition EOF
                continue
            raise SystemExit(str(msg.error()))
        key = (msg.topic(), msg.partition())
        if key not in remaining or msg.offset() >= remaining[key]:
            continue
        if msg.offset() < following[key]:
            again += 1
            continue
        following[key] = msg.offset() + 1
        value = msg.value()
        out.write(json.dumps({
            "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
            "key": base64.b64encode(msg.key() or b"").decode(),
            "value": None if value is None else base64.b64encode(value).decode(),
            "timestamp": msg.timestamp()[1],
            "headers": [name for name, _ in msg.headers() or []],
        }) + "\\n")
        if msg.offset() + 1 >= remaining[key]:
            del remaining[key]
    consumer.close()
    if again:
        print(f"{again} records handed back twice by the consumer, written once", file=sys.stderr)
    """
)


def config_volume(
    release: str, kafka_user: str | None, redis_user: str | None = "admin"
) -> dict[str, Any]:
    """The chart's config volume of a pod: the config (a Redis user's, which names the
    user), for a Kafka client the principal's Secret and the brokers' CA where the
    config's kafka.security reads them, and the Redis user's password and the Redis CA."""
    config_map: dict[str, Any] = {"name": f"{release}-config"}
    if redis_user is not None:
        config_map["items"] = [{"key": f"config-redis-{redis_user}.yaml", "path": "config.yaml"}]
    sources: list[dict[str, Any]] = [{"configMap": config_map}]
    if redis_user is not None:
        sources.append(
            {
                "secret": {
                    "name": f"{release}-redis-user-{redis_user}",
                    "items": [{"key": "password", "path": "redis/password"}],
                }
            }
        )
        # The Redis CA, when the release speaks TLS (no such Secret otherwise).
        sources.append(
            {
                "secret": {
                    "name": f"{release}-redis-tls",
                    "items": [{"key": "ca.crt", "path": "redis-ca/ca.crt"}],
                    "optional": True,
                }
            }
        )
    if kafka_user is not None:
        sources.append(
            {
                "secret": {
                    "name": f"{release}-kafka-user-{kafka_user}",
                    "items": [
                        {"key": "username", "path": "kafka/username"},
                        {"key": "password", "path": "kafka/password"},
                    ],
                }
            }
        )
    sources.append(
        {
            "secret": {
                "name": f"{release}-kafka-tls",
                "items": [{"key": "ca.crt", "path": "kafka-ca/ca.crt"}],
            }
        }
    )
    return {"name": "config", "projected": {"defaultMode": 0o440, "sources": sources}}


def toolbox_manifest(
    release: str,
    namespace: str,
    image: str,
    *,
    name: str = "",
    kafka_user: str | None = "admin",
) -> dict[str, Any]:
    """A pod with the project's CLI, its config and Redis's admin user, doing nothing;
    restricted like every pod of the chart (the cluster enforces it). It reads Kafka as
    the admin (the oracle reads every topic); ``kafka_user`` None: no Kafka credentials
    at all (the CA only), as any pod with the client label could be."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name or TOOLBOX,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/instance": release,
                "airlines-analytics/kafka-client": "true",
                "airlines-analytics/redis-client": "true",
                "airlines-analytics/no-ingress": "true",
            },
        },
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "toolbox",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", "import time; time.sleep(10**9)"],
                    "env": [
                        {"name": "HOME", "value": "/tmp"},
                        {"name": "AIRLINES_CONFIG", "value": "/etc/airlines/config.yaml"},
                    ],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/airlines", "readOnly": True},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [config_volume(release, kafka_user), {"name": "tmp", "emptyDir": {}}],
        },
    }


def start_toolbox(
    kube: Kube,
    release: str,
    namespace: str,
    image: str,
    *,
    name: str = TOOLBOX,
    kafka_user: str | None = "admin",
) -> None:
    manifest = toolbox_manifest(release, namespace, image, name=name, kafka_user=kafka_user)
    kube.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    kube.kubectl(
        "-n",
        namespace,
        "wait",
        "--for=condition=Ready",
        f"pod/{name}",
        "--timeout=120s",
        timeout=150,
    )


def toolbox_run(
    kube: Kube, namespace: str, *argv: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command in the toolbox pod (never raises on its exit status)."""
    return kube.run(
        ["kubectl", "-n", namespace, "exec", TOOLBOX, "--", *argv], check=False, timeout=timeout
    )


def dump_topics(kube: Kube, namespace: str, topics: list[str]) -> list[SourceRecord]:
    """Every record of ``topics`` (read by the toolbox pod), smoke markers included."""
    out = kube.kubectl(
        "-n",
        namespace,
        "exec",
        "-i",
        TOOLBOX,
        "--",
        "python",
        "-",
        *topics,
        stdin=_DUMP,
        timeout=600,
    )
    records: list[SourceRecord] = []
    for line in out.splitlines():
        data = json.loads(line)
        value = data["value"]
        records.append(
            SourceRecord(
                data["topic"],
                data["partition"],
                data["offset"],
                base64.b64decode(data["key"]),
                None if value is None else base64.b64decode(value),
                data["timestamp"],
                tuple(data["headers"]),
            )
        )
    where = [(r.topic, r.partition, r.offset) for r in records]
    assert len(set(where)) == len(where), "the dump read a record twice"
    return records


def missing_acknowledged(
    records: list[SourceRecord], acknowledged: list[tuple[tuple[str, int], PartitionAcks]]
) -> list[str]:
    """Acknowledged events not in the topics, partition by partition: each producer run
    was told ``count`` of its events are at offsets ``first``..``last`` of a partition
    (one producer writes there at a time; smoke markers, from the helm test's pod, are
    the only other records). Says which offsets of the span the log lacks."""
    offsets: dict[tuple[str, int], dict[int, bool]] = {}  # offset -> is an event
    for r in records:
        offsets.setdefault((r.topic, r.partition), {})[r.offset] = not r.is_smoke_marker
    problems = []
    for (topic, partition), acks in acknowledged:
        log = offsets.get((topic, partition), {})
        held = sum(1 for o, event in log.items() if event and acks.first <= o <= acks.last)
        if held < acks.count:
            absent = sorted(set(range(acks.first, acks.last + 1)) - set(log))
            problems.append(
                f"{topic}/{partition}: {acks.count} events acknowledged at offsets "
                f"{acks.first}-{acks.last}, {held} of them in the log; offsets it lacks: "
                f"{absent[:20]}{' ...' if len(absent) > 20 else ''} (its last offset: "
                f"{max(log, default=-1)})"
            )
    return problems


def delivered_problems(
    records: list[SourceRecord],
    delivered: dict[str, int],
    acknowledged: list[tuple[tuple[str, int], PartitionAcks]],
) -> list[str]:
    """How the events in the topics differ from what the producers say the brokers
    acknowledged (``delivered``: per region; ``acknowledged``: where, per partition):
    missing or extra events per region, which acknowledged offsets a partition lacks, and
    event ids written more than once, with where each copy is."""
    import orjson

    from airlines_testkit.offset_log import duplicate_event_ids

    events = [r for r in records if not r.is_smoke_marker]
    problems = missing_acknowledged(records, acknowledged)
    per_region: dict[str, int] = {}
    for record in events:
        region = orjson.loads(record.value or b"{}").get("route_type", "?")
        per_region[region] = per_region.get(region, 0) + 1
    if per_region != delivered:
        problems.append(f"events per region in the topics {per_region} != delivered {delivered}")
    for event_id in duplicate_event_ids(events)[:5]:
        copies = [
            f"{r.topic}/{r.partition}@{r.offset}"
            for r in events
            if r.value and event_id.encode() in r.value
        ]
        problems.append(f"event {event_id} written {len(copies)} times: {copies}")
    return problems
