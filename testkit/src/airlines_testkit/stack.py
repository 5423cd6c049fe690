"""A local stack for test suites: fresh, on free ports, always torn down.

``tests/integration/conftest.py`` builds its ``stack`` and ``fresh_config`` fixtures
from this module; the types are importable for annotations::

    from airlines_testkit.stack import FreshConfig, RunningStack

    def test_something(stack: RunningStack, fresh_config: FreshConfig) -> None: ...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, TopicPartition

from airlines.config import AppConfig, RedisConfig, dump_config, load_config
from airlines.kafka.admin import delete_topics, ensure_topics, topic_specs
from airlines.kafka.settings import librdkafka_settings
from airlines.stack import procs
from airlines.stack.local import LocalStack, StackError
from airlines.stack.ports import PortsBusyError, find_free_plan
from airlines.stack.status import StackStatus
from airlines.store.cluster import cluster_health
from airlines.store.connect import RedisAccess, cluster_client
from airlines.store.users import READER_USER, WRITER_USER
from airlines.waiting import poll
from airlines_testkit import chaos
from airlines_testkit.offset_log import SourceRecord

#: Marks a stack directory with the process that owns it (see reap_orphaned_stacks).
OWNER_FILE = "owner.pid"
#: The key prefixes of :func:`fresh_config` (``t`` and 8 hex digits), as a Redis glob: the
#: test stack's writer and reader users may use them besides the default prefix.
FRESH_KEY_PREFIXES = "t????????"


@dataclass
class RunningStack:
    """A running local stack: ZooKeeper, 3 Kafka brokers (ids 0-2), 6-node Redis Cluster.

    Attributes:
        status: what ``airlines stack status --json`` reports (endpoints, pids, logs).
        config: the generated :class:`AppConfig` (the stack's endpoints, default topics).
        config_path: that config as YAML; pass it as ``--config`` to CLI commands.
        env: variables for subprocesses, to be merged into ``os.environ``:
            ``AIRLINES_CONFIG`` and ``AIRLINES_STACK_DIR``. The config logs in to Redis as
            the admin; :meth:`redis_user` gives the writer's or the reader's.
    """

    local: LocalStack
    status: StackStatus
    config: AppConfig
    config_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.local.root

    @property
    def redis_password(self) -> str:
        """The Redis admin's password."""
        return self.local.password()

    @property
    def redis_access(self) -> RedisAccess:
        """How to log in to the Redis nodes as the admin."""
        return self.local.redis_access()

    def redis_user(self, user: str, config: RedisConfig | None = None) -> RedisConfig:
        """``config`` (default: the stack's) logged in as another of the stack's Redis
        users (``writer``, ``reader``: :mod:`airlines.store.users`)."""
        return self.local.redis_user(user, config)

    def kill_broker(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Signal broker ``index`` (0-2) and wait until its process has exited."""
        chaos.kill_broker(self.local, index, sig)

    def start_broker(self, index: int) -> None:
        """Start broker ``index`` again (same config and data); does not wait."""
        chaos.start_broker(self.local, index)

    def wait_broker_ready(self, index: int, timeout: float = 90) -> None:
        """Wait until broker ``index`` answers and is back in the ISR of its partitions."""
        chaos.wait_broker_ready(self.local, index, timeout=timeout)

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal any service by status name (``zookeeper``, ``kafka-1``, ``redis-<port>``)."""
        chaos.stop_service(self.local, name, sig)

    def start_service(self, name: str) -> None:
        self.local.start_service(name)

    def refresh(self) -> StackStatus:
        self.status = self.local.status()
        return self.status

    def ensure_healthy(self, timeout: float = 120) -> None:
        """Restart whatever is down and wait until the whole stack is up again.

        For tests that break things: call it in a ``finally`` so later tests find a
        healthy stack.
        """
        for spec in self.local.services():
            if not self.local.is_running(spec.name):
                self.local.start_service(spec.name)
        deadline = time.monotonic() + timeout
        brokers = [s.name for s in self.local.services() if s.kind == "kafka"]

        def problems() -> list[str] | None:
            for name in brokers:  # killed ones may exit once on their old registration
                self.local.revive(name)
            status = self.refresh()
            return None if status.up else status.problems

        missing = poll(problems, deadline=deadline, interval=0.5)
        if missing is not None:
            raise StackError(f"stack not healthy after {timeout:g}s: {missing}")
        for index in range(3):
            self.wait_broker_ready(index, timeout=max(1.0, deadline - time.monotonic()))

    def flush_redis(self) -> None:
        """FLUSHALL on every primary (all keys of every test are gone)."""
        client = cluster_client(self.config.redis)
        try:
            health = cluster_health(self.config.redis.nodes, self.redis_access)
            for primary in health.primaries():
                node = client.get_node(primary.ip, primary.port)
                if node is not None:
                    client.execute_command("FLUSHALL", target_nodes=node)
        finally:
            client.close()


@dataclass
class FreshConfig:
    """A config of its own for one test, on the shared stack.

    Its topics are new (unique names, created), its Redis key prefix is unique and its
    checkpoint is in the test's tmp dir, so tests do not see each other's data.
    """

    config: AppConfig
    path: Path
    env: dict[str, str]
    #: The same config logged in to Redis as each of the stack's other users.
    user_paths: dict[str, Path] = field(default_factory=dict)

    def path_as(self, user: str) -> Path:
        """This config as Redis user ``user`` (``writer`` for the job, ``reader`` for the
        dashboard and ``airlines query``)."""
        return self.user_paths[user]

    def config_as(self, user: str) -> AppConfig:
        return load_config(self.user_paths[user])


def airlines_command() -> list[str]:
    """How to run the ``airlines`` CLI of this installation in a subprocess.

    Only the console script's location is needed here: importing the CLI would bring its
    toolkit (typer, rich) into every test that uses the stack.
    """
    script = Path(sys.executable).with_name("airlines")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from airlines.cli import main; main()"]


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``airlines *args`` in a subprocess (wide, plain output), capturing its output.

    ``env`` is merged into the current environment (e.g. ``stack.env``).
    """
    full_env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb", **(env or {})}
    return subprocess.run(
        [*airlines_command(), *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _down_quietly(root: Path) -> None:
    try:
        LocalStack(root).stop_all(timeout=20)
    except StackError:
        procs.kill_pids(procs.leftovers(root))


def reap_orphaned_stacks(base: Path) -> list[Path]:
    """Stop test stacks under ``base`` whose owning test session has died.

    Only directories marked with :data:`OWNER_FILE` by :func:`start_test_stack` are looked
    at, and only when that owner process no longer runs.
    """
    reaped = []
    for owner in base.glob(f"*/*/{OWNER_FILE}"):
        record = procs.read_pid_file(owner)
        if record is not None and procs.is_running(record):
            continue
        root = owner.parent
        if procs.leftovers(root):
            _down_quietly(root)
            reaped.append(root)
    return reaped


def start_test_stack(
    root: Path,
    attempts: int = 3,
    timeout: float = 180,
    *,
    insecure_kafka: bool = False,
    insecure_redis: bool = False,
) -> RunningStack:
    """Start a fresh stack in ``root`` on a free block of ports (retried if one is taken)."""
    root.mkdir(parents=True, exist_ok=True)
    procs.write_pid_file(root / OWNER_FILE, procs.this_process())
    local = LocalStack(root)
    for attempt in range(attempts):
        plan = find_free_plan()
        try:
            status = local.up(
                plan,
                timeout=timeout,
                insecure_kafka=insecure_kafka,
                insecure_redis=insecure_redis,
                key_prefixes=[FRESH_KEY_PREFIXES],
            )
            break
        except (PortsBusyError, StackError) as exc:
            # Another session may take a port between the probe and the bind.
            collided = isinstance(exc, PortsBusyError) or "already in use" in str(exc)
            if not collided or attempt == attempts - 1:
                raise
    config = local.config()
    env = {
        "AIRLINES_CONFIG": str(local.layout.config_file),
        "AIRLINES_STACK_DIR": str(root),
    }
    return RunningStack(local, status, config, local.layout.config_file, env)


@contextmanager
def managed_stack(
    root: Path, *, insecure_kafka: bool = False, insecure_redis: bool = False
) -> Iterator[RunningStack]:
    """Start a stack, yield it, and always stop every one of its processes.

    SIGTERM is turned into KeyboardInterrupt meanwhile, so a cancelled test run
    still tears the stack down.
    """
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, interrupt)
    try:
        yield start_test_stack(root, insecure_kafka=insecure_kafka, insecure_redis=insecure_redis)
    finally:
        _down_quietly(root)
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        (root / OWNER_FILE).unlink(missing_ok=True)


def fresh_config(stack: RunningStack, tmp_dir: Path) -> Iterator[FreshConfig]:
    """Generator for a fixture: new topics and key prefix, removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    base = stack.config
    topics = [t.model_copy(update={"name": f"{t.name}-{suffix}"}) for t in base.topics]
    dead = base.dead_letter.model_copy(update={"topic": f"{base.dead_letter.topic}-{suffix}"})
    redis = base.redis.model_copy(update={"key_prefix": f"t{suffix}"})
    streaming = base.streaming.model_copy(
        update={"checkpoint_location": str(tmp_dir / "checkpoint")}
    )
    data = base.model_copy(
        update={"topics": topics, "dead_letter": dead, "redis": redis, "streaming": streaming}
    ).model_dump(by_alias=True)
    config = AppConfig.model_validate(data)
    path = tmp_dir / "airlines.yaml"
    path.write_text(dump_config(config))
    config = load_config(path)
    specs = topic_specs(config)
    problems = [o for o in ensure_topics(config.kafka, specs) if not o.ok]
    if problems:
        raise StackError(f"cannot create test topics: {problems}")
    env = {**stack.env, "AIRLINES_CONFIG": str(path)}
    user_paths = {}
    for user in (WRITER_USER, READER_USER):
        user_path = tmp_dir / f"airlines-{user}.yaml"
        redis_as_user = stack.redis_user(user, config.redis)
        user_path.write_text(dump_config(config.model_copy(update={"redis": redis_as_user})))
        user_paths[user] = user_path
    try:
        yield FreshConfig(config, path, env, user_paths)
    finally:
        try:
            delete_topics(config.kafka, [s.name for s in specs])
        finally:
            _delete_keys(stack, f"{config.redis.key_prefix}:*")


def _delete_keys(stack: RunningStack, pattern: str) -> None:
    client = cluster_client(stack.config.redis)
    try:
        for primary in cluster_health(stack.config.redis.nodes, stack.redis_access).primaries():
            node = client.get_node(primary.ip, primary.port)
            connection = node.redis_connection if node is not None else None
            if connection is None:
                continue
            for key in list(connection.scan_iter(match=pattern, count=1000)):
                connection.delete(key)
    finally:
        client.close()


@dataclass(frozen=True)
class TopicMessage:
    """One Kafka message as a test reads it back."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    topic: str
    partition: int
    offset: int
    #: The record's own timestamp (ms since the epoch); None if it has none.
    timestamp_ms: int | None = None

    def record(self) -> SourceRecord:
        """As the offset log's helpers take it (:mod:`airlines_testkit.offset_log`)."""
        return SourceRecord(
            self.topic,
            self.partition,
            self.offset,
            self.key,
            self.value,
            self.timestamp_ms,
            tuple(self.headers),
        )


def read_topic(config: AppConfig, topic: str, timeout: float = 60) -> list[TopicMessage]:
    """Every message of a topic, from the beginning to its end when called.

    Acknowledged messages (acks=all) are below the end, so nothing sent before is missed.
    """
    consumer = Consumer(
        {
            **librdkafka_settings(config.kafka),
            "group.id": f"test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        positions = dict.fromkeys(partitions, 0)
        messages: list[TopicMessage] = []
        deadline = time.monotonic() + timeout
        while any(positions[p] < ends[p] for p in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {timeout:g}s")
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            partition, offset = int(msg.partition() or 0), int(msg.offset() or 0)
            positions[partition] = offset + 1
            pairs: Any = msg.headers() or []
            headers = {str(name): bytes(raw or b"").decode() for name, raw in pairs}
            kind, stamp = msg.timestamp()
            messages.append(
                TopicMessage(
                    msg.key(),
                    msg.value(),
                    headers,
                    topic,
                    partition,
                    offset,
                    None if kind == TIMESTAMP_NOT_AVAILABLE else stamp,
                )
            )
        return messages
    finally:
        consumer.close()
