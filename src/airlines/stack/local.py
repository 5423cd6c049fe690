"""The local stack: ZooKeeper, three Kafka brokers and a six-node Redis Cluster.

Real processes, started from the Kafka jars resolved by ``make setup`` and the
``redis-server`` it builds from Debian's source package, each in its own session (so
they outlive ``stack up --detach``), with their files under one directory (see
:mod:`airlines.stack.layout`).

``up`` either brings everything to ready or stops what it started and raises
:class:`StackError` naming the service; ``down`` stops everything and verifies that
no process of the stack is left. What each service is lives in
:mod:`airlines.stack.services`, how the stack is asked how it is in
:mod:`airlines.stack.health`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airlines.config import (
    AppConfig,
    ConfigError,
    KafkaConfig,
    RedisConfig,
    load_config,
)
from airlines.kafka import admin as kafka_admin
from airlines.kafka import principals as kafka_principals
from airlines.kafka.principals import principal_users
from airlines.stack import procs, render, security
from airlines.stack.health import stack_status
from airlines.stack.layout import StackLayout
from airlines.stack.ports import PortPlan, check_ports_free, plan_ports
from airlines.stack.prepare import write_stack_files
from airlines.stack.prereqs import Prerequisites, check_prerequisites
from airlines.stack.procs import ProcessRecord
from airlines.stack.services import (
    STALE_REGISTRATION,
    ZK_SESSION_TIMEOUT,
    ServiceSpec,
    StackError,
    StackRefusedError,
    died_message,
    four_letter_word,
    redis_pings,
    service_argv,
    service_specs,
)
from airlines.stack.status import StackStatus
from airlines.store import bootstrap as redis_bootstrap
from airlines.store import users as redis_users
from airlines.store.connect import RedisAccess
from airlines.waiting import poll

#: Seconds ``down`` waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 30.0

#: How long a restarted broker is retried while its old registration may still expire:
#: the session timeout, ZooKeeper's expiry tick, and room for a slow start.
STALE_RETRY_WINDOW = 2 * ZK_SESSION_TIMEOUT + 10


@dataclass
class _Spawn:
    """When a service's current run of start attempts began, and where its log was."""

    first: float  # time.monotonic() of the first attempt
    log_offset: int  # the log's size when the latest attempt started


class Reporter(Protocol):
    """Receives progress of ``up``: one line per key, updated until done."""

    def update(self, key: str, text: str) -> None: ...

    def done(self, key: str, text: str) -> None: ...


class NullReporter:
    def update(self, key: str, text: str) -> None:
        pass

    def done(self, key: str, text: str) -> None:
        pass


class LocalStack:
    """One stack directory and the processes started from it."""

    def __init__(self, root: Path, reporter: Reporter | None = None) -> None:
        self.root = root.resolve()
        self.layout = StackLayout(self.root)
        self.reporter: Reporter = reporter or NullReporter()
        self._prereqs: Prerequisites | None = None
        self._spawns: dict[str, _Spawn] = {}

    # ---- state -----------------------------------------------------------------------

    def saved_plan(self) -> PortPlan | None:
        try:
            return PortPlan.model_validate_json(self.layout.state_file.read_text())
        except (OSError, ValueError):
            return None

    def plan(self) -> PortPlan:
        """The ports of this stack: the ones it was set up with, else the defaults."""
        return self.saved_plan() or plan_ports()

    def has_data(self) -> bool:
        return self.layout.data_dir.is_dir() and any(self.layout.data_dir.iterdir())

    def services(self) -> list[ServiceSpec]:
        return service_specs(self.plan())

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services():
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.services())
        raise StackError(f"no service named {name!r} (services: {known})")

    def record(self, name: str) -> ProcessRecord | None:
        return procs.read_pid_file(self.layout.pid_file(name))

    def is_running(self, name: str) -> bool:
        record = self.record(name)
        return record is not None and procs.is_running(record)

    def running(self) -> dict[str, ProcessRecord]:
        """Services whose recorded process still runs."""
        found = {}
        for spec in self.services():
            record = self.record(spec.name)
            if record is not None and procs.is_running(record):
                found[spec.name] = record
        return found

    def password(self, user: str = redis_users.ADMIN_USER) -> str:
        """The password of one of the stack's Redis users (by default the admin's)."""
        path = self.layout.redis_password_file(user)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StackError(
                f"redis password file of {user} {path} cannot be read: {exc.strerror}"
            ) from exc

    def redis_user(self, user: str, config: RedisConfig | None = None) -> RedisConfig:
        """``config`` (default: the generated config's Redis client) logged in as another
        of the stack's users (``writer``, ``reader``, ...: :mod:`airlines.store.users`)."""
        redis = config or self.config().redis
        ca = self.layout.ca_cert if self.config().redis.tls is not None else None
        return render.redis_client(redis, user, self.layout.redis_password_file(user), ca)

    def redis_access(self, user: str = redis_users.ADMIN_USER) -> RedisAccess:
        """How to log in to the stack's Redis nodes as ``user`` (the admin by default)."""
        return RedisAccess.of(self.redis_user(user))

    def config(self) -> AppConfig:
        """The generated config (``airlines.yaml``)."""
        return load_config(self.layout.config_file)

    def kafka_user(self, user: str) -> KafkaConfig:
        """The generated config's Kafka client, logged in as another of the stack's users
        (``producer-east-coast``, ``streaming``, ...: :mod:`airlines.kafka.principals`)."""
        kafka = self.config().kafka
        security = render.client_security(
            user, self.layout.user_password_file(user), self.layout.ca_cert
        )
        return kafka.model_copy(update={"security": security})

    def kafka_client(self, servers: list[str] | None = None) -> KafkaConfig:
        """The generated config's Kafka client (the admin), optionally for some brokers."""
        kafka = self.config().kafka
        return kafka if servers is None else kafka.model_copy(update={"bootstrap_servers": servers})

    # ---- starting -----------------------------------------------------------------

    def prerequisites(self) -> Prerequisites:
        if self._prereqs is None:
            self._prereqs = check_prerequisites()
        return self._prereqs

    def argv(self, spec: ServiceSpec) -> list[str]:
        return service_argv(spec, self.prerequisites(), self.layout)

    def start_service(self, name: str, *, retry: bool = False) -> ProcessRecord:
        """Start one service from its rendered config (it must not be running).

        ``retry``: another attempt of the same start (see :meth:`revive`)."""
        spec = self.service(name)
        if self.is_running(name):
            raise StackError(f"{name} is already running (pid {self.record(name)})")
        own = {name, f"{name} cluster bus"}
        check_ports_free(self.plan(), skip=[n for n in self.plan().named() if n not in own])
        log = self.layout.log(name)
        offset = log.stat().st_size if log.exists() else 0
        previous = self._spawns.get(name)
        first = previous.first if retry and previous else time.monotonic()
        self._spawns[name] = _Spawn(first=first, log_offset=offset)
        record = procs.spawn(self.argv(spec), cwd=self.root, output=self.layout.out(name))
        procs.write_pid_file(self.layout.pid_file(name), record)
        return record

    def _log_since_spawn(self, name: str) -> str:
        spawn = self._spawns.get(name)
        try:
            with self.layout.log(name).open("rb") as handle:
                handle.seek(spawn.log_offset if spawn else 0)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def revive(self, name: str) -> bool:
        """Start again a broker that exited during start-up because the registration of
        its previous, killed process was still in ZooKeeper; True if it was restarted.

        That registration goes when the old session expires (up to
        :data:`ZK_SESSION_TIMEOUT` after the kill), so the broker is retried for
        :data:`STALE_RETRY_WINDOW` from its first attempt, then :class:`StackError`
        says what is wrong. Any other exit is not retried (False)."""
        spawn = self._spawns.get(name)
        if spawn is None or self.is_running(name) or self.service(name).kind != "kafka":
            return False
        if STALE_REGISTRATION not in self._log_since_spawn(name):
            return False
        waited = time.monotonic() - spawn.first
        if waited > STALE_RETRY_WINDOW:
            raise StackError(
                f"{name}: its broker id is still registered in ZooKeeper by a process that "
                f"is gone, after {waited:.0f}s of retries (a ZooKeeper session outlives a "
                f"killed broker by up to {ZK_SESSION_TIMEOUT:g}s); see {self.layout.log(name)}"
            )
        self.reporter.update("kafka", f"{name}: old registration not expired yet, starting again")
        time.sleep(1.0)
        self.start_service(name, retry=True)
        return True

    def up(
        self,
        plan: PortPlan | None = None,
        base: AppConfig | None = None,
        timeout: float = 120,
        *,
        insecure_kafka: bool = False,
        insecure_redis: bool = False,
        key_prefixes: list[str] | None = None,
    ) -> StackStatus:
        """Start every service and wait until the whole stack is ready.

        ``insecure_kafka``: brokers with a PLAINTEXT listener and no authorizer, and a
        ZooKeeper that asks no one who they are (only to measure what security costs).
        ``insecure_redis``: Redis nodes, their replication and cluster bus in plaintext
        (the ACL users stay). ``key_prefixes``: more key prefixes (Redis globs) the
        writer and reader users may use, besides ``redis.keyPrefix`` (test suites).

        Raises :class:`~airlines.stack.prereqs.PrerequisiteError`,
        :class:`~airlines.stack.ports.PortsBusyError` or :class:`StackError`; in every
        case nothing of this stack is left running.
        """
        self.prerequisites()
        saved = self.saved_plan()
        if plan is None:
            plan = saved or plan_ports()
        running = self.running()
        if running:
            if len(running) == len(service_specs(self.plan())):
                status = self.status()
                if status.up:
                    return status
            names = ", ".join(running)
            raise StackRefusedError(
                f"the stack in {self.root} is partly running ({names}): "
                "run 'airlines stack down' first"
            )
        if saved is not None and saved != plan and self.has_data():
            raise StackRefusedError(
                f"{self.root} holds data of a stack on other ports ({saved.summary()}): "
                "start it on those ports, or remove it with 'airlines stack down --purge'"
            )
        if base is None:
            base = self._previous_base()
        try:
            render.check_fits_stack(base)
        except ValueError as exc:
            raise StackRefusedError(f"config: {exc}") from exc
        check_ports_free(plan)
        fresh = not self.has_data()
        config = write_stack_files(
            self.layout, plan, base, insecure_kafka, insecure_redis, key_prefixes or []
        )
        deadline = time.monotonic() + timeout
        try:
            self._start_all(config, deadline, timeout)
        except BaseException:
            self._teardown(fresh)
            raise
        return self.status()

    def _previous_base(self) -> AppConfig:
        if self.layout.config_file.exists():
            try:
                return self.config()
            except ConfigError:
                pass
        return AppConfig()

    def _start_all(self, config: AppConfig, deadline: float, timeout: float) -> None:
        report = self.reporter
        specs = self.services()
        zookeeper = [s for s in specs if s.kind == "zookeeper"]
        brokers = [s for s in specs if s.kind == "kafka"]
        redis_nodes = [s for s in specs if s.kind == "redis"]

        report.update("zookeeper", "starting ZooKeeper")
        for spec in zookeeper + redis_nodes:
            self.start_service(spec.name)
        zk = zookeeper[0]
        self._wait_until(
            "zookeeper",
            lambda: four_letter_word(zk.port, "ruok") == "imok",
            deadline,
            timeout,
            watch=[zk.name],
        )
        report.done("zookeeper", f"ZooKeeper ready on {zk.endpoint}")

        secured = config.kafka.security.protocol != "PLAINTEXT"
        if secured:
            report.update("kafka", "writing the brokers' and the admin's credentials")
            pre = self.prerequisites()
            try:
                security.bootstrap_credentials(
                    pre.java, pre.classpath, self.layout, self.plan().zookeeper_connect
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                raise StackError(str(exc)) from exc

        report.update("kafka", f"starting {len(brokers)} Kafka brokers")
        for spec in brokers:
            self.start_service(spec.name)

        access = RedisAccess.of(config.redis)
        report.update("redis", f"starting {len(redis_nodes)} Redis nodes")
        self._wait_until(
            "redis",
            lambda: all(redis_pings(s.port, access) for s in redis_nodes),
            deadline,
            timeout,
            watch=[s.name for s in redis_nodes],
        )
        report.update("redis", "forming the Redis Cluster")
        try:
            result = redis_bootstrap.bootstrap(
                [s.endpoint for s in redis_nodes],
                access,
                replicas=1,
                timeout=max(1.0, deadline - time.monotonic()),
                log=lambda message: report.update("redis", message),
            )
        except redis_bootstrap.BootstrapError as exc:
            self.check_alive([s.name for s in redis_nodes])
            raise StackError(str(exc)) from exc
        formed = "formed" if result.changed else "already formed"
        report.done(
            "redis",
            f"Redis Cluster {formed}: 3 primaries + 3 replicas on "
            f"{redis_nodes[0].port}-{redis_nodes[-1].port}",
        )

        registered: set[int] = set()

        def brokers_registered() -> bool:
            nonlocal registered
            registered = kafka_admin.registered_brokers(config.kafka, timeout=2)
            report.update("kafka", f"Kafka brokers registered: {len(registered)}/{len(brokers)}")
            return len(registered) == len(brokers)

        self._wait_until(
            "kafka", brokers_registered, deadline, timeout, watch=[s.name for s in brokers]
        )
        report.done("kafka", f"{len(brokers)} Kafka brokers ready on {brokers[0].endpoint}…")

        if secured:
            report.update("topics", "applying the principals' credentials and ACLs")
            users = principal_users(config)
            passwords = {u: security.read(self.layout.user_password_file(u)) for u in users}
            try:
                applied = kafka_principals.apply_principals(
                    kafka_admin.admin_client(config.kafka), config, passwords
                )
            except kafka_principals.PrincipalsError as exc:
                raise StackError(str(exc)) from exc
            report.update("topics", f"{len(applied.credentials)} Kafka principals ready")

        report.update("topics", "creating topics")
        specs_ = kafka_admin.topic_specs(config)
        try:
            outcomes = kafka_admin.ensure_topics(
                config.kafka, specs_, timeout=max(5.0, deadline - time.monotonic())
            )
        except kafka_admin.KafkaAdminError as exc:
            raise StackError(str(exc)) from exc
        failed = [f"{o.name}: {'; '.join(o.problems)}" for o in outcomes if not o.ok]
        if failed:
            raise StackError("kafka topics: " + " | ".join(failed))
        report.done("topics", f"topics ready: {', '.join(o.name for o in outcomes)}")

    def check_alive(self, names: list[str]) -> None:
        """Raise for a service that exited, unless it is a broker :meth:`revive` restarts."""
        for name in names:
            if not self.is_running(name) and not self.revive(name):
                raise StackError(died_message(name, self.record(name), self.layout))

    def _wait_until(
        self,
        what: str,
        check: Callable[[], bool],
        deadline: float,
        timeout: float,
        watch: list[str],
    ) -> None:

        def not_ready() -> bool | None:
            if check():
                return None
            self.check_alive(watch)
            return True

        if poll(not_ready, deadline=deadline, interval=0.25):
            logs = ", ".join(str(self.layout.log(name)) for name in watch)
            raise StackError(f"{what}: not ready within {timeout:g}s (see {logs})")

    def _teardown(self, fresh: bool) -> None:
        """Stop whatever a failed ``up`` started; a fresh stack also loses its data."""
        self.stop_all(timeout=10)
        if fresh:
            shutil.rmtree(self.layout.data_dir, ignore_errors=True)
            self.layout.state_file.unlink(missing_ok=True)

    # ---- stopping -----------------------------------------------------------------

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> list[str]:
        """Stop brokers, then ZooKeeper, then Redis; verify no process is left.

        Returns notes (services that needed SIGKILL, stray processes found).
        """
        notes = []
        groups: list[list[ServiceSpec]] = [
            [s for s in self.services() if s.kind == kind]
            for kind in ("kafka", "zookeeper", "redis")
        ]
        for group in groups:
            records = {s.name: r for s in group if (r := self.record(s.name)) is not None}
            killed = procs.stop(records, timeout)
            notes += [f"{name} did not stop within {timeout:g}s: killed" for name in killed]
        stray = procs.leftovers(self.root)
        if stray:
            notes.append(f"stopped stray processes of this stack: pids {stray}")
            procs.kill_pids(stray)
        left = procs.leftovers(self.root)
        if left:
            raise StackError(f"processes of the stack in {self.root} are still running: {left}")
        shutil.rmtree(self.layout.run_dir, ignore_errors=True)
        return notes

    def down(self, purge: bool = False, timeout: float = STOP_TIMEOUT) -> list[str]:
        notes = self.stop_all(timeout)
        if purge:
            for path in self.layout.purgeable():
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.root.rmdir()
        return notes

    # ---- status -------------------------------------------------------------------

    def status(self, probe: bool = True) -> StackStatus:
        return stack_status(self, probe)


__all__ = [
    "LocalStack",
    "NullReporter",
    "Reporter",
    "ServiceSpec",
    "StackError",
    "StackRefusedError",
]
