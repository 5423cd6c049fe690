"""Kafka administration with confluent-kafka's AdminClient: brokers and topics.

``ensure_topics`` is what ``airlines topics ensure`` runs, both for the local stack
and as the chart's hook Job, so it works against any cluster named by a config:
missing topics are created, topics with fewer partitions than configured are grown,
and a replication factor that differs from the config is reported (changing it needs
a partition reassignment, which this does not do).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewPartitions, NewTopic

from airlines.config import AppConfig, KafkaConfig
from airlines.kafka.settings import librdkafka_settings
from airlines.waiting import poll

if TYPE_CHECKING:
    from confluent_kafka.admin._metadata import ClusterMetadata

#: A quiet logger for librdkafka (it would otherwise print every refused connection).
_RDKAFKA_LOG = logging.getLogger("airlines.rdkafka")
_RDKAFKA_LOG.addHandler(logging.NullHandler())
_RDKAFKA_LOG.propagate = False


class KafkaAdminError(RuntimeError):
    """A Kafka operation that failed; the message names the cluster or topic."""


def min_insync_replicas(replication_factor: int) -> int:
    """Topic ``min.insync.replicas``: survive one broker down, never more than 2 needed.

    RF 1 -> 1, RF 2 -> 1, RF 3+ -> 2.
    """
    return max(1, min(2, replication_factor - 1))


#: Topic setting: how far ahead of the broker's clock a record's own timestamp may be.
TIMESTAMP_AFTER_MAX = "message.timestamp.after.max.ms"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    #: :data:`TIMESTAMP_AFTER_MAX`, when the topic has a bound (None: the broker's).
    timestamp_after_max_ms: int | None = None

    @property
    def configs(self) -> dict[str, str]:
        configs = {"min.insync.replicas": str(min_insync_replicas(self.replication_factor))}
        if self.timestamp_after_max_ms is not None:
            configs[TIMESTAMP_AFTER_MAX] = str(self.timestamp_after_max_ms)
        return configs


def topic_specs(config: AppConfig) -> list[TopicSpec]:
    """The regional input topics and the dead-letter topic of a config.

    The broker refuses an input record whose own timestamp is further ahead of its clock
    than ``streaming.maxFutureSkew``, as the job refuses an event further ahead of its
    record: a producer cannot move the job's watermark by dating the record instead.
    """
    ahead_ms = round(config.streaming.max_future_skew.total_seconds() * 1000)
    specs = [TopicSpec(t.name, t.partitions, t.replication_factor, ahead_ms) for t in config.topics]
    dead = config.dead_letter
    specs.append(TopicSpec(dead.topic, dead.partitions, dead.replication_factor))
    return specs


Action = Literal["created", "unchanged", "partitions increased", "failed"]


@dataclass
class TopicOutcome:
    name: str
    action: Action
    partitions: int
    replication_factor: int
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def client_config(kafka: KafkaConfig, **overrides: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        **librdkafka_settings(kafka),
        "client.id": f"{kafka.client_id}-admin",
        "logger": _RDKAFKA_LOG,
        "socket.connection.setup.timeout.ms": 5000,
    }
    conf.update(overrides)
    return conf


def admin_client(kafka: KafkaConfig, **overrides: Any) -> AdminClient:
    return AdminClient(client_config(kafka, **overrides))


class ClientErrors:
    """A client's ``error_cb``: keeps what librdkafka said, such as a refused login or an
    untrusted certificate, which a failed request alone does not tell."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, error: KafkaError) -> None:
        text = error.str()
        # "sasl_ssl://127.0.0.1:9092/bootstrap: SASL authentication error: ..." → the cause
        cause = text.split(": ", 1)[1] if "://" in text.split(": ", 1)[0] else text
        if cause not in self.seen and "brokers are down" not in cause:
            self.seen.append(cause)

    def summary(self) -> str:
        return f"; {self.seen[-1]}" if self.seen else ""


def _servers(kafka: KafkaConfig) -> str:
    return ", ".join(kafka.bootstrap_servers)


def cluster_metadata(
    kafka: KafkaConfig, timeout: float = 10, admin: AdminClient | None = None
) -> ClusterMetadata:
    """Cluster metadata, or a KafkaAdminError naming the bootstrap servers."""
    errors = ClientErrors()
    admin = admin or admin_client(kafka, error_cb=errors)
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        admin.poll(0)  # serves error_cb: why the brokers could not be used
        raise KafkaAdminError(
            f"kafka: cannot get metadata from {_servers(kafka)} within {timeout:g}s "
            f"({exc.args[0].str() if exc.args else exc}{errors.summary()})"
        ) from exc


def registered_brokers(kafka: KafkaConfig, timeout: float = 3) -> set[int]:
    """Ids of the brokers registered in the cluster; empty if it cannot be reached."""
    try:
        return set(cluster_metadata(kafka, timeout).brokers)
    except KafkaAdminError:
        return set()


def _error_text(exc: BaseException) -> str:
    if exc.args and hasattr(exc.args[0], "str"):
        return str(exc.args[0].str())
    return str(exc)


def _error_code(exc: BaseException) -> int | None:
    if exc.args and hasattr(exc.args[0], "code"):
        return int(exc.args[0].code())
    return None


def ensure_topics(
    kafka: KafkaConfig, specs: list[TopicSpec], timeout: float = 60
) -> list[TopicOutcome]:
    """Create missing topics, grow partitions, report replication-factor mismatches.

    Idempotent. Returns once every partition of every topic has a leader that answers
    for it, so that clients started next can use the topics.
    """
    deadline = time.monotonic() + timeout
    admin = admin_client(kafka)
    outcomes: dict[str, TopicOutcome] = {}
    pending = list(specs)

    def one_pass() -> list[TopicSpec] | None:
        """Create or check what is pending; the topics to look at again, if any."""
        nonlocal pending
        metadata = cluster_metadata(
            kafka, timeout=max(1.0, deadline - time.monotonic()), admin=admin
        )
        brokers = len(metadata.brokers)
        retry: list[TopicSpec] = []
        missing = [s for s in pending if s.name not in metadata.topics]
        for spec in pending:
            if spec in missing:
                continue
            partitions = metadata.topics[spec.name].partitions
            rf = max((len(p.replicas) for p in partitions.values()), default=0)
            outcome = TopicOutcome(spec.name, "unchanged", len(partitions), rf)
            outcomes[spec.name] = outcome
            if rf != spec.replication_factor:
                outcome.problems.append(
                    f"replication factor is {rf}, config says {spec.replication_factor}: "
                    "changing it needs a partition reassignment (kafka-reassign-partitions)"
                )
            if len(partitions) > spec.partitions:
                outcome.notes.append(
                    f"has {len(partitions)} partitions, more than the configured "
                    f"{spec.partitions} (partitions cannot be removed)"
                )
            elif len(partitions) < spec.partitions:
                futures = admin.create_partitions(
                    [NewPartitions(spec.name, spec.partitions)],
                    operation_timeout=min(30, timeout),
                    request_timeout=min(30, timeout),
                )
                try:
                    futures[spec.name].result()
                except Exception as exc:
                    outcome.action = "failed"
                    outcome.problems.append(
                        f"cannot increase partitions {len(partitions)} -> {spec.partitions}: "
                        f"{_error_text(exc)}"
                    )
                else:
                    outcome.action = "partitions increased"
                    outcome.notes.append(f"partitions {len(partitions)} -> {spec.partitions}")
                    outcome.partitions = spec.partitions
            _align_timestamp_bound(kafka, admin, spec, outcome, timeout)
        if missing:
            new = [
                NewTopic(
                    s.name,
                    num_partitions=s.partitions,
                    replication_factor=s.replication_factor,
                    config=s.configs,
                )
                for s in missing
            ]
            futures = admin.create_topics(
                new, operation_timeout=min(30, timeout), request_timeout=min(30, timeout)
            )
            for spec in missing:
                try:
                    futures[spec.name].result()
                except Exception as exc:
                    if _error_code(exc) == KafkaError.TOPIC_ALREADY_EXISTS:
                        # Created concurrently, or still being deleted: look again.
                        retry.append(spec)
                        continue
                    outcome = TopicOutcome(spec.name, "failed", 0, 0)
                    hint = ""
                    if spec.replication_factor > brokers:
                        hint = f" (the cluster has {brokers} brokers registered)"
                    outcome.problems.append(
                        f"cannot create with {spec.partitions} partitions, replication factor "
                        f"{spec.replication_factor}: {_error_text(exc)}{hint}"
                    )
                    outcomes[spec.name] = outcome
                else:
                    outcomes[spec.name] = TopicOutcome(
                        spec.name, "created", spec.partitions, spec.replication_factor
                    )
        pending = retry
        return pending or None

    # A topic still being deleted exists until it is gone: look again until the deadline.
    still_pending = poll(one_pass, deadline=deadline, interval=0.5) if pending else None
    for spec in still_pending or []:
        outcomes[spec.name] = TopicOutcome(
            spec.name,
            "failed",
            0,
            0,
            problems=["exists but is marked for deletion; try again later"],
        )
    wanted = [o for o in outcomes.values() if o.action != "failed"]
    _wait_for_leaders(kafka, wanted, deadline)
    return [outcomes[s.name] for s in specs]


def _align_timestamp_bound(
    kafka: KafkaConfig,
    admin: AdminClient,
    spec: TopicSpec,
    outcome: TopicOutcome,
    timeout: float,
) -> None:
    """Give an existing topic the spec's :data:`TIMESTAMP_AFTER_MAX` (topics created before
    the bound existed, or with another); a note says what changed."""
    if spec.timestamp_after_max_ms is None:
        return
    wanted = str(spec.timestamp_after_max_ms)
    try:
        current = topic_config(kafka, spec.name, min(30, timeout), admin)[TIMESTAMP_AFTER_MAX]
        if current == wanted:
            return
        change = ConfigResource(
            ResourceType.TOPIC,
            spec.name,
            incremental_configs=[
                ConfigEntry(
                    TIMESTAMP_AFTER_MAX, wanted, incremental_operation=AlterConfigOpType.SET
                )
            ],
        )
        admin.incremental_alter_configs([change], request_timeout=min(30, timeout))[change].result()
    except Exception as exc:
        outcome.problems.append(f"cannot set {TIMESTAMP_AFTER_MAX}={wanted}: {_error_text(exc)}")
    else:
        outcome.notes.append(f"{TIMESTAMP_AFTER_MAX} {current} -> {wanted}")


def _partitions_led(metadata: ClusterMetadata, outcome: TopicOutcome) -> bool:
    topic = metadata.topics.get(outcome.name)
    return (
        topic is not None
        and topic.error is None
        and len(topic.partitions) >= outcome.partitions
        and all(p.leader >= 0 for p in topic.partitions.values())
    )


def _wait_for_leaders(kafka: KafkaConfig, outcomes: list[TopicOutcome], deadline: float) -> None:
    """Until the metadata has a leader for each partition of ``outcomes`` and each leader
    answers for its partition; at the deadline, each topic still short says why.

    A created topic reaches the brokers one by one: metadata can name a leader that has
    not taken the partition on yet (it answers "unknown topic or partition"), or come
    from a broker that has not heard of the topic (a producer started right after
    ``topics ensure`` was told its topic did not exist, once; a test asking the leader
    for offsets was told the partition was unknown, once). Asking each leader for its
    partition's offsets is what proves the topic usable.
    """
    consumer = Consumer(client_config(kafka, **{"group.id": "airlines-admin-ensure"}))

    def unserved() -> dict[str, str] | None:
        wait = max(1.0, min(5.0, deadline - time.monotonic()))
        problems = {o.name: p for o in outcomes if (p := _unserved(consumer, o, wait))}
        return problems or None

    try:
        problems = poll(unserved, deadline=deadline, interval=0.2) or {}
        for outcome in outcomes:
            if outcome.name in problems:
                outcome.problems.append(problems[outcome.name])
    finally:
        consumer.close()


def _unserved(consumer: Consumer, outcome: TopicOutcome, wait: float) -> str | None:
    """Why ``outcome``'s topic is not usable yet, None once every partition's leader
    answers for it. The consumer's metadata is refreshed first: it says whom to ask."""
    try:
        if not _partitions_led(consumer.list_topics(outcome.name, timeout=wait), outcome):
            return "not every partition has a leader yet"
        for partition in range(outcome.partitions):
            consumer.get_watermark_offsets(TopicPartition(outcome.name, partition), timeout=wait)
    except KafkaException as exc:
        return f"not every partition's leader answers for it yet ({_error_text(exc)})"
    return None


def topic_config(
    kafka: KafkaConfig,
    topic: str,
    timeout: float = 10,
    admin: AdminClient | None = None,
) -> dict[str, str]:
    """The effective configuration of a topic (``describe_configs``)."""
    admin = admin or admin_client(kafka)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    futures = admin.describe_configs([resource], request_timeout=timeout)
    try:
        entries = futures[resource].result()
    except Exception as exc:
        raise KafkaAdminError(f"kafka: cannot describe topic {topic}: {_error_text(exc)}") from exc
    return {name: entry.value for name, entry in entries.items()}


def delete_topics(kafka: KafkaConfig, names: list[str], timeout: float = 60) -> None:
    """Delete topics and wait until the cluster no longer lists them."""
    if not names:
        return
    admin = admin_client(kafka)
    deadline = time.monotonic() + timeout
    futures = admin.delete_topics(names, operation_timeout=min(30, timeout))
    for name, future in futures.items():
        try:
            future.result()
        except Exception as exc:
            if _error_code(exc) != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise KafkaAdminError(
                    f"kafka: cannot delete topic {name}: {_error_text(exc)}"
                ) from exc

    def still_listed() -> list[str] | None:
        listed = cluster_metadata(kafka, timeout=5, admin=admin).topics
        return [name for name in names if name in listed] or None

    if poll(still_listed, deadline=deadline, interval=0.2) is not None:
        raise KafkaAdminError(f"kafka: topics {names} still listed {timeout:g}s after deletion")
