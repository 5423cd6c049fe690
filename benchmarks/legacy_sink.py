"""The Redis sink as it was before its rewrite (commit 132c3b8): the benchmark's baseline.

Kept unchanged (only its settings type is shared) so that ``make bench`` measures the
new sink beside the old one in the same run, on the same machine and data: redis-py
connections, ``pack_commands`` per pipeline, one ``read_response`` per reply, and
five commands per row (the window hash, its TTL, and the flight index's ZADD, trim and
TTL for every row). The job does not use it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.crc import key_slot
from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    MovedError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)

from airlines.config.types import split_endpoint
from airlines.contract.redis_layout import Command, KeyLayout, WindowAggregate
from airlines.store.writer import SinkSettings

log = logging.getLogger(__name__)

SLOTS = 16384
#: Commands per node per round trip: large enough to amortise the round trip, small
#: enough to bound memory per write.
CHUNK = 5000

Address = tuple[str, int]
_TRANSIENT_REPLIES = (TryAgainError, ClusterDownError, MasterDownError, BusyLoadingError)


class RedisWriteError(RuntimeError):
    """A batch could not be written to Redis within the retry budget."""


@dataclass
class _Pending:
    """A command still to be written, and where it must go next."""

    command: Command
    slot: int
    redirect: Address | None = None
    asking: bool = False


@dataclass
class WriteStats:
    commands: int = 0
    round_trips: int = 0
    retries: int = 0
    redirects: int = 0
    #: Rounds of writes that fewer replicas than required confirmed (WAIT).
    unconfirmed: int = 0
    slot_map_refreshes: int = 0
    errors: list[str] = field(default_factory=list)


class ClusterWriter:
    """Pipelined, retried, per-node writes of idempotent commands to a Redis Cluster."""

    def __init__(self, settings: SinkSettings) -> None:
        self.settings = settings
        self.stats = WriteStats()
        self._startup: list[Address] = [split_endpoint(n) for n in settings.nodes]
        self._slots: list[Address | None] = [None] * SLOTS
        self._connections: dict[Address, redis.Connection] = {}

    # -- connections and the slot map -------------------------------------------------

    def _connection(self, address: Address) -> redis.Connection:
        connection = self._connections.get(address)
        if connection is None:
            kind = redis.SSLConnection if self.settings.tls_ca_file else redis.Connection
            tls: dict[str, Any] = (
                {
                    "ssl_ca_certs": self.settings.tls_ca_file,
                    "ssl_certfile": self.settings.tls_cert_file,
                    "ssl_keyfile": self.settings.tls_key_file,
                    "ssl_check_hostname": self.settings.tls_check_hostname,
                }
                if self.settings.tls_ca_file
                else {}
            )
            connection = kind(
                host=address[0],
                port=address[1],
                username=self.settings.username,
                password=self.settings.password,
                socket_timeout=self.settings.socket_timeout,
                socket_connect_timeout=5,
                **tls,
            )
            self._connections[address] = connection
        return connection

    def _drop(self, address: Address) -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.disconnect()

    def refresh_slots(self) -> None:
        """Load the slot -> primary map from the first node that answers."""
        self.stats.slot_map_refreshes += 1
        known = {a for a in self._slots if a is not None}
        problems = []
        for address in [*self._startup, *sorted(known - set(self._startup))]:
            try:
                connection = self._connection(address)
                connection.send_command("CLUSTER", "SLOTS")
                ranges = connection.read_response()
            except redis.AuthenticationError as exc:
                raise RedisWriteError(f"{address[0]}:{address[1]}: {exc}") from exc
            except (redis.ConnectionError, redis.TimeoutError, ResponseError) as exc:
                self._drop(address)
                problems.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            slots: list[Address | None] = [None] * SLOTS
            for start, end, primary, *_replicas in ranges:
                host = primary[0].decode() if isinstance(primary[0], bytes) else primary[0]
                # An empty or '?' host means "the address you reached me at".
                owner = (host if host not in ("", "?") else address[0], int(primary[1]))
                for slot in range(int(start), int(end) + 1):
                    slots[slot] = owner
            self._slots = slots
            return
        raise redis.ConnectionError("no Redis node answered CLUSTER SLOTS: " + "; ".join(problems))

    def close(self) -> None:
        for address in list(self._connections):
            self._drop(address)

    # -- writing ------------------------------------------------------------------------

    def write(self, commands: Sequence[Command]) -> None:
        """Write every command (each names its key first); raise if that is impossible."""
        if not commands:
            return
        self.stats.commands += len(commands)
        pending = [_Pending(c, key_slot(_key_bytes(c[1]))) for c in commands]
        deadline = time.monotonic() + self.settings.retry_seconds
        delay = 0.05
        attempt = 0
        while pending:
            if attempt > 0 or self._slots[pending[0].slot] is None:
                if attempt > 0:
                    self.stats.retries += 1
                    if time.monotonic() + delay > deadline:
                        raise RedisWriteError(
                            f"{len(pending)} Redis commands still failing after "
                            f"{self.settings.retry_seconds:g}s of retries; last problems: "
                            + "; ".join(self.stats.errors[-3:])
                        )
                    # Jitter keeps many executors from retrying in lockstep.
                    time.sleep(delay * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, 2.0)
                try:
                    self.refresh_slots()
                except redis.ConnectionError as exc:
                    self.stats.errors.append(str(exc))
                    attempt += 1
                    continue
            pending = self._round(pending)
            attempt += 1

    def _round(self, pending: list[_Pending]) -> list[_Pending]:
        """Send everything once; return what must be retried."""
        by_node: dict[Address, list[_Pending]] = {}
        for item in pending:
            address = item.redirect or self._slots[item.slot]
            if address is None:
                raise RedisWriteError(f"slot {item.slot} is not served by any Redis node")
            by_node.setdefault(address, []).append(item)
        retry: list[_Pending] = []
        for address, items in by_node.items():
            for start in range(0, len(items), CHUNK):
                retry.extend(self._send(address, items[start : start + CHUNK]))
        return retry

    def _send(self, address: Address, items: list[_Pending]) -> list[_Pending]:
        args: list[Command] = []
        for item in items:
            if item.asking:
                args.append(("ASKING",))
            args.append(item.command)
        acks = self.settings.ack_replicas
        if acks:
            # Replication is asynchronous: a primary killed right after it answered
            # may take the writes with it. WAIT returns once `acks` replicas have them.
            args.append(("WAIT", acks, self.settings.ack_timeout_ms))
        try:
            connection = self._connection(address)
            connection.send_packed_command(connection.pack_commands(args))
            self.stats.round_trips += 1
        except redis.AuthenticationError as exc:
            raise RedisWriteError(f"{address[0]}:{address[1]}: {exc}") from exc
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._note(address, exc)
            self._drop(address)
            return [_Pending(i.command, i.slot) for i in items]
        retry: dict[int, _Pending] = {}  # by index in items
        for index, item in enumerate(items):
            try:
                if item.asking:
                    connection.read_response()
                connection.read_response()
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                # The rest of this node's replies are lost with the connection; resend
                # them all (idempotent).
                self._note(address, exc)
                self._drop(address)
                for later in range(index, len(items)):
                    retry[later] = _Pending(items[later].command, items[later].slot)
                return list(retry.values())
            except MovedError as exc:
                self.stats.redirects += 1
                self._slots[exc.slot_id] = (exc.host, int(exc.port))
                retry[index] = _Pending(item.command, item.slot)
            except AskError as exc:
                self.stats.redirects += 1
                retry[index] = _Pending(item.command, item.slot, (exc.host, int(exc.port)), True)
            except (*_TRANSIENT_REPLIES, ReadOnlyError) as exc:
                self._note(address, exc)
                retry[index] = _Pending(item.command, item.slot)
            except ResponseError as exc:
                self._drop(address)  # its remaining replies are never read
                name = _text(item.command[0])
                key = _text(item.command[1]) if len(item.command) > 1 else ""
                raise RedisWriteError(
                    f"Redis {address[0]}:{address[1]} rejected {name} {key}: {exc}"
                ) from exc
        if acks and not self._confirmed(address, connection, acks):
            # Not durable yet: write them all again (idempotent) until replicas have them.
            for index, item in enumerate(items):
                retry.setdefault(index, _Pending(item.command, item.slot))
        return list(retry.values())

    def _confirmed(self, address: Address, connection: redis.Connection, acks: int) -> bool:
        """Read the WAIT reply: True if ``acks`` replicas have every write before it."""
        try:
            confirmed = int(connection.read_response())
        except (redis.ConnectionError, redis.TimeoutError, OSError, ResponseError) as exc:
            self._note(address, exc)
            self._drop(address)
            return False
        if confirmed >= acks:
            return True
        self.stats.unconfirmed += 1
        self._note(
            address,
            RedisWriteError(
                f"{confirmed} of {acks} replica(s) confirmed the writes within "
                f"{self.settings.ack_timeout_ms} ms (WAIT); the primary may have lost its replica"
            ),
        )
        return False

    def _note(self, address: Address, exc: BaseException) -> None:
        message = f"{address[0]}:{address[1]}: {type(exc).__name__}: {exc}"
        self.stats.errors.append(message)
        del self.stats.errors[:-20]
        log.warning("redis write will be retried: %s", message)


def _key_bytes(key: str | bytes | int | float) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


def _text(value: str | bytes | int | float) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def write_commands(
    rows: Iterable[WindowAggregate], layout: KeyLayout, *, ttl_seconds: int, top_n: int
) -> list[Command]:
    """Every command that stores ``rows`` (one partition of a batch), idempotently.

    Per row: the window HASH and the flight's window index. Per route and window (not
    per row): one ZADD of all its flights' delays. Per route: the route set and the
    route's window index, once.
    """
    commands: list[Command] = []
    delays: dict[tuple[str, int], list[tuple[float, str]]] = {}
    route_starts: dict[str, set[int]] = {}
    trim_to = -(top_n + 1)
    for row in rows:
        key = layout.window(row.route, row.flight_id, row.window_start_ms)
        fields = row.to_hash()
        commands.append(("HSET", key, *[item for pair in fields.items() for item in pair]))
        commands.append(("EXPIRE", key, ttl_seconds))
        flight_index = layout.flight_windows(row.flight_id)
        commands.append(("ZADD", flight_index, row.window_start_ms, key))
        commands.append(("ZREMRANGEBYRANK", flight_index, 0, trim_to))
        commands.append(("EXPIRE", flight_index, ttl_seconds))
        delays.setdefault((row.route, row.window_start_ms), []).append(
            (row.avg_delay_minutes, row.flight_id)
        )
        route_starts.setdefault(row.route, set()).add(row.window_start_ms)
    for (route, start), members in sorted(delays.items()):
        key = layout.route_delays(route, start)
        commands.append(
            (
                "ZADD",
                key,
                *[item for score, flight in sorted(members) for item in (repr(score), flight)],
            )
        )
        commands.append(("EXPIRE", key, ttl_seconds))
    for route, starts in sorted(route_starts.items()):
        index = layout.route_windows(route)
        commands.append(("ZADD", index, *[item for s in sorted(starts) for item in (s, s)]))
        commands.append(("ZREMRANGEBYRANK", index, 0, trim_to))
        commands.append(("EXPIRE", index, ttl_seconds))
    if route_starts:
        commands.append(("SADD", layout.routes(), *sorted(route_starts)))
        commands.append(("EXPIRE", layout.routes(), ttl_seconds))
    return commands
