"""The oracle on the real cluster: what Redis must hold, from what Kafka holds.

Inputs, read independently of the job's output:

* every record of the input topics, read back from Kafka by a toolbox pod (the
  project's CLI image, in the release's namespace) — topic, partition, offset, key,
  value;
* which offsets each micro-batch read: Spark's own offset log in the job's checkpoint
  (``<checkpoint>/analytics/offsets/<batch>``, committed when ``commits/<batch>``
  exists), read from the checkpoint volume on this machine (local-path keeps it in a
  directory of the node).

From those, :func:`airlines.jobs.testing.oracle` recomputes every window in plain
Python, the watermark included (a batch's watermark comes from the batches before it),
so even events a broker or driver restart made late are accounted for exactly.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tests.e2e.kube import Kube

from airlines.smoke import SMOKE_KEY

TOOLBOX = "e2e-toolbox"

#: Runs in the toolbox pod: every record of the given topics, from the start to the
#: high watermark at the time of the call, as JSON lines.
_DUMP = textwrap.dedent(
    """
    import base64, json, sys
    from confluent_kafka import Consumer, TopicPartition
    from airlines.config.loader import load_config
    config = load_config("/etc/airlines/config.yaml")
    consumer = Consumer({
        "bootstrap.servers": ",".join(config.kafka.bootstrap_servers),
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
        value = msg.value()
        out.write(json.dumps({
            "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset(),
            "key": base64.b64encode(msg.key() or b"").decode(),
            "value": None if value is None else base64.b64encode(value).decode(),
        }) + "\\n")
        if msg.offset() + 1 >= remaining[key]:
            del remaining[key]
    consumer.close()
    """
)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes | None

    @property
    def is_smoke_marker(self) -> bool:
        return self.key == SMOKE_KEY


def toolbox_manifest(release: str, namespace: str, image: str) -> dict[str, Any]:
    """A pod with the project's CLI, its config and the Redis password, doing nothing;
    restricted like every pod of the chart (the cluster enforces it)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": TOOLBOX,
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
                        {
                            "name": "REDIS_PASSWORD",
                            "valueFrom": {
                                "secretKeyRef": {
                                    "name": f"{release}-redis-auth",
                                    "key": "redis-password",
                                }
                            },
                        },
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
            "volumes": [
                {"name": "config", "configMap": {"name": f"{release}-config"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }


def start_toolbox(kube: Kube, release: str, namespace: str, image: str) -> None:
    manifest = yaml.safe_dump(toolbox_manifest(release, namespace, image))
    kube.kubectl("apply", "-f", "-", stdin=manifest)
    kube.kubectl(
        "-n",
        namespace,
        "wait",
        "--for=condition=Ready",
        f"pod/{TOOLBOX}",
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


def dump_topics(kube: Kube, namespace: str, topics: list[str]) -> list[Record]:
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
    records = []
    for line in out.splitlines():
        data = json.loads(line)
        value = data["value"]
        records.append(
            Record(
                data["topic"],
                data["partition"],
                data["offset"],
                base64.b64decode(data["key"]),
                None if value is None else base64.b64decode(value),
            )
        )
    return records


@dataclass(frozen=True)
class Batch:
    batch_id: int
    end_offsets: dict[tuple[str, int], int]
    watermark_ms: int
    committed: bool


def checkpoint_batches(analytics_checkpoint: Path) -> list[Batch]:
    """The analytics query's offset log: which offsets each batch read up to."""
    offsets_dir = analytics_checkpoint / "offsets"
    commits_dir = analytics_checkpoint / "commits"
    batches = []
    for path in sorted(
        offsets_dir.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1
    ):
        if not path.name.isdigit():
            continue
        lines = path.read_text().splitlines()
        # v1 / metadata (watermark, conf) / one line per source (a single Kafka source).
        metadata = json.loads(lines[1])
        ends: dict[tuple[str, int], int] = {}
        for line in lines[2:]:
            for topic, partitions in json.loads(line).items():
                for partition, offset in partitions.items():
                    ends[(topic, int(partition))] = int(offset)
        batches.append(
            Batch(
                int(path.name),
                ends,
                int(metadata.get("batchWatermarkMs", 0)),
                (commits_dir / path.name).exists(),
            )
        )
    return batches


def phases(records: list[Record], batches: list[Batch]) -> list[list[tuple[str, bytes | None]]]:
    """The records of each committed batch, in batch order, for the oracle.

    Fails if a record lies beyond the last committed batch: call it once the job has
    caught up (see :func:`caught_up`).
    """
    committed = [b for b in batches if b.committed]
    result: list[list[tuple[str, bytes | None]]] = [[] for _ in committed]
    for record in records:
        if record.is_smoke_marker:
            continue
        where = (record.topic, record.partition)
        for index, batch in enumerate(committed):
            if record.offset < batch.end_offsets.get(where, 0):
                result[index].append((record.topic, record.value))
                break
        else:
            raise AssertionError(f"record {where}@{record.offset} is in no committed batch")
    return result


def caught_up(records: list[Record], batches: list[Batch]) -> bool:
    """True when the committed batches have read every record."""
    committed = [b for b in batches if b.committed]
    if not committed:
        return False
    ends = committed[-1].end_offsets
    latest: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        latest[key] = max(latest.get(key, -1), record.offset)
    return all(ends.get(key, 0) > offset for key, offset in latest.items())


def duplicate_event_ids(records: list[Record]) -> list[str]:
    """event_ids that appear in more than one record (the producers must never resend)."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.value is None or record.is_smoke_marker:
            continue
        try:
            event_id = json.loads(record.value).get("event_id")
        except (ValueError, AttributeError):
            continue
        if isinstance(event_id, str):
            counts[event_id] += 1
    return sorted(e for e, n in counts.items() if n > 1)
