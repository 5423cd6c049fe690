"""Writing to a Redis Cluster fast and safely: per-node pipelines, retries, WAIT.

redis-py's ``ClusterPipeline`` routes every command in Python (py-spy shows it), and
even redis-py's plain pipelines spend more time packing commands and parsing replies than
Redis spends running them. This writer keeps the cluster's slot map itself, takes
*entries* (the RESP-encoded commands of one key, see
:mod:`airlines.store.encoding`), groups them by the primary that owns their slot
and sends each node its share as one block of bytes, all nodes before reading any
reply; window rows are encoded and sent a chunk at a time, so Redis works on one chunk
while the next is encoded. A node's replies are read as one block too
(:mod:`airlines.store.node`); only a block holding an error is looked at reply by
reply, and a failed entry is sent again whole:

* ``MOVED`` - the slot moved (resharding, failover): remember the new owner, retry there;
* ``ASK`` - the slot is being migrated: retry at the target, each command preceded by
  ``ASKING``;
* ``TRYAGAIN``, ``CLUSTERDOWN``, ``MASTERDOWN``, ``LOADING``, ``READONLY`` (a primary that
  became a replica), timeouts and lost connections - transient: refresh the slot map and
  retry after a backoff (doubling, capped), until ``retry_seconds`` have passed;
* any other error reply (``WRONGTYPE``, ``NOAUTH``, ``OOM`` ...) - not retried.

With ``ack_replicas`` (``redis.ackReplicas``, 1 by default) each node's share ends with
``WAIT``: replication is asynchronous, and a primary killed right after it answered
would take its last writes with it when its replica takes over. Writes fewer replicas
confirmed are written again (a primary whose replica is gone stalls the batch until one
is back, or until the retries run out).

Whatever cannot be written in time raises :class:`RedisWriteError`, so the Spark task
and with it the micro-batch fail (the query stops; a restart replays the batch from
the checkpoint) instead of losing the batch. Retrying is safe because every command
the sink sends is idempotent (see :mod:`airlines.contract.redis_layout`), which is also why a
command whose reply was lost with its connection can simply be sent again.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from airlines.config.types import split_endpoint
from airlines.contract.redis_layout import Command, KeyLayout
from airlines.store.encoding import Outbox, WindowEncoder
from airlines.store.node import (
    SLOTS,
    NodeAuthError,
    NodeConnection,
    NodeConnectionError,
    Reply,
    last_integer,
    pack,
    reply_error,
    split_commands,
)
from airlines.store.sink_settings import RedisWriteError, SinkSettings, WriteStats
from airlines.waiting import retry

__all__ = ["ClusterWriter", "RedisWriteError", "SinkSettings", "WriteStats", "writer_for"]

log = logging.getLogger(__name__)

#: Window rows encoded and sent per step: Redis runs one chunk while the next is encoded.
CHUNK_ROWS = 2000
#: Window rows sent before their replies are read and confirmed (WAIT): bounds the
#: memory kept for re-sending (about 1 KiB per row) and amortises the WAIT round trip.
ROWS_PER_CONFIRMATION = 20_000

Address = tuple[str, int]
_TRANSIENT = ("TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING", "READONLY")
_ASKING = "*1\r\n$6\r\nASKING\r\n"


@dataclass
class _Sent:
    """What one node has been sent and not yet answered."""

    connection: NodeConnection | None  # None: sending failed; every entry is re-sent
    entries: list[int] = field(default_factory=list)
    replies: int = 0
    asking: set[int] = field(default_factory=set)  # entries sent with ASKING


class _UnwrittenError(Exception):
    """Entries of a write are still unconfirmed after a round (why: ``WriteStats.errors``)."""


@dataclass
class _Retry:
    """Entries to send again, and where ``ASK`` sent some of them."""

    entries: list[int] = field(default_factory=list)
    ask: dict[int, Address] = field(default_factory=dict)


class ClusterWriter:
    """Pipelined, retried, per-node writes of idempotent commands to a Redis Cluster."""

    def __init__(
        self,
        settings: SinkSettings,
        *,
        chunk_rows: int = CHUNK_ROWS,
        rows_per_confirmation: int = ROWS_PER_CONFIRMATION,
    ) -> None:
        self.settings = settings
        self.chunk_rows = chunk_rows
        self.rows_per_confirmation = rows_per_confirmation
        self.stats = WriteStats()
        self._startup: list[Address] = [split_endpoint(n) for n in settings.nodes]
        self._slots: list[Address | None] = [None] * SLOTS
        self._slots_loaded = False
        self._connections: dict[Address, NodeConnection] = {}
        self._tls = settings.ssl_context()
        self._encoder = WindowEncoder(
            KeyLayout(settings.key_prefix), ttl_seconds=settings.ttl_seconds, top_n=settings.top_n
        )
        acks = settings.ack_replicas
        self._wait = pack(("WAIT", acks, settings.ack_timeout_ms)) if acks else b""

    # -- connections and the slot map -------------------------------------------------

    def _connection(self, address: Address) -> NodeConnection:
        connection = self._connections.get(address)
        if connection is None:
            try:
                connection = NodeConnection(
                    address,
                    username=self.settings.username,
                    password=self.settings.password,
                    timeout=self.settings.socket_timeout,
                    tls=self._tls,
                )
            except NodeAuthError as exc:
                raise RedisWriteError(f"{address[0]}:{address[1]}: {exc}") from exc
            self._connections[address] = connection
        return connection

    def _drop(self, address: Address) -> None:
        connection = self._connections.pop(address, None)
        if connection is not None:
            connection.close()

    def refresh_slots(self) -> None:
        """Load the slot -> primary map from the first node that answers."""
        self.stats.slot_map_refreshes += 1
        known = {a for a in self._slots if a is not None}
        problems = []
        for address in [*self._startup, *sorted(known - set(self._startup))]:
            try:
                connection = self._connection(address)
                connection.send(pack(("CLUSTER", "SLOTS")))
                (ranges,) = connection.replies(1)
            except NodeConnectionError as exc:
                self._drop(address)
                problems.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            if (error := reply_error(ranges)) is not None or not isinstance(ranges, list):
                problems.append(f"{address[0]}:{address[1]}: CLUSTER SLOTS: {error or ranges!r}")
                continue
            slots: list[Address | None] = [None] * SLOTS
            for start, end, primary, *_replicas in ranges:
                host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
                # An empty or '?' host means "the address you reached me at".
                owner = (host if host not in ("", "?") else address[0], int(primary[1]))
                slots[int(start) : int(end) + 1] = [owner] * (int(end) - int(start) + 1)
            self._slots = slots
            self._slots_loaded = True
            return
        raise NodeConnectionError("no Redis node answered CLUSTER SLOTS: " + "; ".join(problems))

    def close(self) -> None:
        for address in list(self._connections):
            self._drop(address)

    # -- the entry points ---------------------------------------------------------------

    def write(self, commands: Sequence[Command]) -> None:
        """Write every command (each names its key first); raise if that is impossible."""
        if not commands:
            return
        outbox = Outbox()
        outbox.add_commands(commands)
        try:
            deadline = self._start()
            retry = _Retry()
            sent: dict[Address, _Sent] = {}
            self._send(outbox, range(len(outbox)), sent, retry)
            self._collect(outbox, sent, retry)
            self._retry(outbox, retry, deadline)
        except BaseException:
            self.close()  # replies may be left unread
            raise
        self.stats.commands += outbox.commands

    def write_windows(self, rows: Iterable[Sequence[Any]], batch_id: int) -> int:
        """Write window rows of one batch (:data:`~airlines.contract.redis_layout.SINK_COLUMNS`
        order, e.g. Spark rows of :func:`~airlines.stream.windows.sink_rows`) with their
        indexes; returns how many. Raises :class:`RedisWriteError` if that is impossible.
        """
        written = 0
        iterator = iter(rows)
        try:
            while rows_written := self._write_group(iterator, batch_id):
                written += rows_written
        except BaseException:
            # Replies may be left unread and index members half collected: start afresh.
            self.close()
            self._encoder.discard()
            raise
        return written

    def _write_group(self, rows: Iterator[Sequence[Any]], batch_id: int) -> int:
        """Encode, send and confirm up to ``rows_per_confirmation`` rows; how many."""
        encoder = self._encoder
        outbox = Outbox()
        if not encoder.encode(itertools.islice(rows, self.chunk_rows), batch_id, outbox):
            return 0  # nothing to write: no need for Redis either
        deadline = self._start()
        retry = _Retry()
        sent: dict[Address, _Sent] = {}
        self._send(outbox, range(len(outbox)), sent, retry)
        while outbox.rows < self.rows_per_confirmation:
            start = len(outbox)
            if not encoder.encode(itertools.islice(rows, self.chunk_rows), batch_id, outbox):
                break
            self._send(outbox, range(start, len(outbox)), sent, retry)
        start = len(outbox)
        encoder.indexes(outbox)
        self._send(outbox, range(start, len(outbox)), sent, retry)
        self._collect(outbox, sent, retry)
        self._retry(outbox, retry, deadline)
        self.stats.commands += outbox.commands
        return outbox.rows

    # -- rounds ---------------------------------------------------------------------------

    def _start(self) -> float:
        """The deadline of a write; the slot map is loaded (with retries) if need be."""
        deadline = time.monotonic() + self.settings.retry_seconds
        if not self._slots_loaded:
            self._retrying(self._load_slots, deadline, lambda: "the slot map cannot be loaded")
        return deadline

    def _retry(self, outbox: Outbox, failed: _Retry, deadline: float) -> None:
        """Send failed entries again (after a backoff and a fresh slot map) until done."""
        if not failed.entries:
            return
        pending = failed

        def resend() -> None:
            nonlocal pending
            self._load_slots()
            again: _Retry = _Retry()
            sent: dict[Address, _Sent] = {}
            self._send(outbox, pending.entries, sent, again, pending.ask)
            self._collect(outbox, sent, again)
            pending = again
            if pending.entries:
                raise _UnwrittenError

        self._retrying(
            resend,
            deadline,
            lambda: f"{len(pending.entries)} Redis writes",
            already_failed=_UnwrittenError(),
        )

    def _load_slots(self) -> None:
        try:
            self.refresh_slots()
        except NodeConnectionError as exc:
            self._note(None, exc)
            raise

    def _retrying(
        self,
        action: Callable[[], None],
        deadline: float,
        what: Callable[[], str],
        already_failed: BaseException | None = None,
    ) -> None:
        """``action`` until it returns, backing off after a lost node or unwritten entries."""

        def count(_attempt: int, _failure: BaseException, _seconds: float) -> None:
            self.stats.retries += 1

        try:
            retry(
                action,
                retryable=lambda exc: isinstance(exc, NodeConnectionError | _UnwrittenError),
                deadline=deadline,
                on_wait=count,
                first=0.05,
                cap=2.0,
                jitter=True,  # keeps many executors from retrying in lockstep
                already_failed=already_failed,
            )
        except (NodeConnectionError, _UnwrittenError) as exc:
            raise RedisWriteError(
                f"{what()}: still failing after {self.settings.retry_seconds:g}s of retries; "
                "last problems: " + "; ".join(self.stats.errors[-3:])
            ) from exc

    def _send(
        self,
        outbox: Outbox,
        entries: Iterable[int],
        sent: dict[Address, _Sent],
        retry: _Retry,
        ask: dict[int, Address] | None = None,
    ) -> None:
        """Send ``entries`` to their nodes (replies are read by :meth:`_collect`)."""
        owners = self._slots
        slots = outbox.slots
        groups: dict[Address, list[int]] = {}
        unowned: list[int] = []
        for entry in entries:
            owner = ask.get(entry, owners[slots[entry]]) if ask else owners[slots[entry]]
            if owner is None:
                unowned.append(entry)
                continue
            group = groups.get(owner)
            if group is None:
                groups[owner] = [entry]
            else:
                group.append(entry)
        if unowned:
            self._note(None, RuntimeError(f"slot {slots[unowned[0]]} has no primary"))
            retry.entries += unowned
        for address, group in groups.items():
            state = sent.get(address)
            if state is None:
                state = sent[address] = _Sent(None)
                try:
                    state.connection = self._connection(address)
                except NodeConnectionError as exc:
                    self._note(address, exc)
            state.entries += group
            if state.connection is None:
                continue  # all of this node's entries are sent again after _collect
            text, replies = _pipeline(outbox, group, ask or {}, state.asking)
            state.replies += replies
            try:
                state.connection.send(text.encode("utf-8", "surrogateescape"))
                self.stats.round_trips += 1
            except NodeConnectionError as exc:
                self._note(address, exc)
                self._drop(address)
                state.connection = None

    def _collect(self, outbox: Outbox, sent: dict[Address, _Sent], retry: _Retry) -> None:
        """Read every node's replies (and WAIT); add what must be sent again to ``retry``."""
        acks = self.settings.ack_replicas
        for address, state in sent.items():
            self._collect_node(outbox, address, state, retry, acks)

    def _collect_node(
        self, outbox: Outbox, address: Address, state: _Sent, retry: _Retry, acks: int
    ) -> None:
        connection = state.connection
        if connection is None:
            retry.entries += state.entries
            return
        try:
            if acks:
                # Replication is asynchronous: a primary killed right after it answered
                # may take the writes with it. WAIT returns once `acks` replicas have them.
                connection.send(self._wait)
            fast, block = connection.read_block(state.replies + (1 if acks else 0))
        except NodeConnectionError as exc:
            # Its replies are lost with the connection: send everything again (idempotent).
            self._note(address, exc)
            self._drop(address)
            retry.entries += state.entries
            return
        if fast:
            assert isinstance(block, bytes)
            confirmed = last_integer(block) if acks else 0
            failed: list[int] = []
        else:
            assert isinstance(block, list)
            failed = self._failures(outbox, address, state, block, retry)
            confirmed = _integer(block[-1]) if acks else 0
        if acks and confirmed < acks:
            self.stats.unconfirmed += 1
            self._note(
                address,
                RedisWriteError(
                    f"{confirmed} of {acks} replica(s) confirmed the writes within "
                    f"{self.settings.ack_timeout_ms} ms (WAIT); the primary may have lost "
                    "its replica"
                ),
            )
            # Not durable yet: write them all again (idempotent) until replicas have them.
            again = set(failed)
            retry.entries += [e for e in state.entries if e not in again]

    def _failures(
        self,
        outbox: Outbox,
        address: Address,
        state: _Sent,
        replies: list[Reply],
        retry: _Retry,
    ) -> list[int]:
        """Match a node's replies to its entries; returns the entries to send again."""
        failed: list[int] = []
        position = 0
        for entry in state.entries:
            count = outbox.replies[entry] * (2 if entry in state.asking else 1)
            errors = [e for r in replies[position : position + count] if (e := reply_error(r))]
            position += count
            if not errors:
                continue
            error = errors[0]
            word = error.split(" ", 1)[0]
            if word in ("MOVED", "ASK"):
                self.stats.redirects += 1
                _, slot, target = error.split(" ")
                host, _, port = target.rpartition(":")
                if word == "MOVED":
                    self._slots[int(slot)] = (host, int(port))
                else:
                    retry.ask[entry] = (host, int(port))
            elif word in _TRANSIENT:
                self._note(address, RuntimeError(error))
            else:
                raise RedisWriteError(
                    f"Redis {address[0]}:{address[1]} rejected {_describe(outbox, entry)}: {error}"
                )
            failed.append(entry)
        retry.entries += failed
        return failed

    def _note(self, address: Address | None, exc: BaseException) -> None:
        where = f"{address[0]}:{address[1]}: " if address else ""
        message = f"{where}{type(exc).__name__}: {exc}"
        self.stats.errors.append(message)
        del self.stats.errors[:-20]
        log.warning("redis write will be retried: %s", message)


def _pipeline(
    outbox: Outbox, group: list[int], ask: dict[int, Address], asking: set[int]
) -> tuple[str, int]:
    """The text sent for ``group`` and the replies it asks for (ASKING where ``ask`` says)."""
    payloads, replies = outbox.payloads, outbox.replies
    if not ask:
        return "".join([payloads[e] for e in group]), sum([replies[e] for e in group])
    parts, count = [], 0
    for entry in group:
        if entry in ask:
            asking.add(entry)
            parts.append(_asking(payloads[entry]))
            count += 2 * replies[entry]
        else:
            parts.append(payloads[entry])
            count += replies[entry]
    return "".join(parts), count


def _asking(payload: str) -> str:
    """The entry's commands, each preceded by ASKING (for the target of an ASK)."""
    commands = split_commands(payload.encode("utf-8", "surrogateescape"))
    return "".join(_ASKING + pack(c).decode("utf-8", "surrogateescape") for c in commands)


def _describe(outbox: Outbox, entry: int) -> str:
    """``HSET aa:win:...`` - the first command of an entry, for error messages."""
    commands = split_commands(outbox.payloads[entry].encode("utf-8", "surrogateescape"))
    name, key = commands[0][0], commands[0][1] if len(commands[0]) > 1 else b""
    return f"{name.decode(errors='replace')} {key.decode(errors='replace')}"


def _integer(reply: Reply) -> int:
    return reply if isinstance(reply, int) else -1


# -- one writer per Python worker process, reused across tasks and batches ---------------

_WRITERS: dict[SinkSettings, ClusterWriter] = {}


def writer_for(settings: SinkSettings) -> ClusterWriter:
    """The cached writer of this process (Spark reuses Python workers between tasks)."""
    writer = _WRITERS.get(settings)
    if writer is None:
        writer = _WRITERS[settings] = ClusterWriter(settings)
    return writer
