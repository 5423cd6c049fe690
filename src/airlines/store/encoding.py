"""Window rows -> the sink's Redis commands, encoded straight to RESP.

:func:`airlines.contract.redis_layout.write_commands` says what the sink writes; this module
writes the same commands, in the same order, as protocol text, without building a
Python object per command or per argument (a unit test decodes its output and compares
it with ``write_commands``). The time goes to what differs between rows: each row's
key, its six numbers and its slot. Everything else is built once and reused: per
flight the key prefix, the ``route``/``airline``/``flight_id`` fields and the CRC of
the key prefix (CRC16 continues over the window start, so a key is never hashed
whole); per window its four time fields; per batch its three fields; per flight index
its key, slot and trim/TTL commands.

The output is an :class:`Outbox` of *entries*: the commands of one key (so of one
slot), which the writer routes, sends, and re-sends as a unit.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from airlines.contract.redis_layout import KeyLayout, iso_utc
from airlines.store.node import SLOTS, Arg, pack


@dataclass
class Outbox:
    """Entries to write: each the RESP text of one key's commands, with its slot.

    Payloads are text whose length prefixes count UTF-8 bytes; the writer encodes a
    node's payloads at once (``surrogateescape`` keeps packed bytes exact).
    """

    slots: list[int] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    #: Commands (so replies) of each entry.
    replies: list[int] = field(default_factory=list)
    #: Window rows encoded into this outbox.
    rows: int = 0

    def __len__(self) -> int:
        return len(self.payloads)

    def add(self, slot: int, payload: str, replies: int) -> None:
        self.slots.append(slot)
        self.payloads.append(payload)
        self.replies.append(replies)

    def add_commands(self, commands: Iterable[Sequence[Arg]]) -> None:
        """Any commands, one entry each (the key is each command's first argument)."""
        for command in commands:
            self.add(key_slot(_key_bytes(command[1])), _text(pack(command)), 1)

    @property
    def commands(self) -> int:
        return sum(self.replies)


def key_slot(key: bytes) -> int:
    """The cluster slot of a key (CRC16 of its hash tag, if it has one)."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key, 0) % SLOTS


def bulk(value: str) -> str:
    """One RESP bulk string (its length counted in UTF-8 bytes)."""
    return f"${len(value.encode())}\r\n{value}\r\n"


#: The order of a delay ranking's members, as write_commands sorts (score, flight).
_delay_and_flight = itemgetter(0, 1)


def _start_and_key(member: str) -> tuple[int, str]:
    """A flight index member ``$13\\r\\n<start>\\r\\n$<n>\\r\\n<key>\\r\\n`` -> (start, key)."""
    _, start, _, key, _ = member.split("\r\n")
    return int(start), key


def _key_bytes(key: Arg) -> bytes:
    if isinstance(key, bytes):
        return key
    return (repr(key) if isinstance(key, float) else str(key)).encode()


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", "surrogateescape")


# Cached parts are plain tuples: unpacking one is cheaper than reading attributes.

#: Per (route, airline, flight): the key prefix ("aa:win:<route>:<flight>:") and its
#: length in bytes, the prefix's CRC16 (continued over the window start), the slot if
#: the prefix holds a complete hash tag (else -1), the ``route``/``airline``/
#: ``flight_id`` fields as RESP, the flight id as a RESP bulk string, and the delay
#: rankings of the route being collected (window start -> members).
_Flight = tuple[str, int, int, int, str, str, "_Rankings"]
#: A route's delay rankings: window start -> (delay, flight id, delay as text, flight id
#: as RESP) of each of its flights.
_Rankings = dict[int, list[tuple[float, str, str, str]]]
#: Per (start, end): the start as text, as bytes and as a RESP bulk string, and the
#: ``window_start``/``window_end``/``window_start_ms``/``window_end_ms`` fields.
_Window = tuple[str, bytes, str, str]
#: Per flight index: its slot, its key as a RESP bulk string, and its trim + TTL.
_FlightIndex = tuple[int, str, str]


class WindowEncoder:
    """Encodes window rows (:data:`airlines.contract.redis_layout.SINK_COLUMNS` order) to entries.

    Caches grow with the distinct flights and windows seen (bounded by the fleet and
    the windows of a batch); one encoder serves one writer.
    """

    def __init__(self, layout: KeyLayout, *, ttl_seconds: int, top_n: int) -> None:
        self.layout = layout
        self.ttl_seconds = ttl_seconds
        self.top_n = top_n
        self._ttl = bulk(str(ttl_seconds))
        self._trim_to = bulk(str(-(top_n + 1)))
        self._flights: dict[tuple[str, str, str], _Flight] = {}
        self._windows: dict[tuple[int, int], _Window] = {}
        self._indexes: dict[str, _FlightIndex] = {}
        #: Index members of the rows encoded since the last :meth:`indexes`: per flight
        #: its windows (start and key, as RESP; a list once there are several); per
        #: route its delay rankings (shared with the route's cached flights).
        self._by_flight: dict[str, str | list[str]] = {}
        self._delays: dict[str, _Rankings] = {}

    # -- cached parts -------------------------------------------------------------------

    def _flight(self, route: str, airline: str, flight_id: str) -> _Flight:
        prefix = self.layout.window(route, flight_id, 0)[:-1]
        raw = prefix.encode()
        tag_start = raw.find(b"{")
        tag_end = raw.find(b"}", tag_start + 1) if tag_start >= 0 else -1
        flight = (
            prefix,
            len(raw),
            crc_hqx(raw, 0),
            key_slot(raw) if tag_end > tag_start + 1 else -1,
            bulk("route")
            + bulk(route)
            + bulk("airline")
            + bulk(airline)
            + bulk("flight_id")
            + bulk(flight_id),
            bulk(flight_id),
            self._delays.setdefault(route, {}),
        )
        self._flights[(route, airline, flight_id)] = flight
        return flight

    def _window(self, start_ms: int, end_ms: int) -> _Window:
        start = str(start_ms)
        window = (
            start,
            start.encode(),
            bulk(start),
            bulk("window_start")
            + bulk(iso_utc(start_ms))
            + bulk("window_end")
            + bulk(iso_utc(end_ms))
            + bulk("window_start_ms")
            + bulk(start)
            + bulk("window_end_ms")
            + bulk(str(end_ms)),
        )
        self._windows[(start_ms, end_ms)] = window
        return window

    def _flight_index(self, flight_id: str) -> _FlightIndex:
        key = bulk(self.layout.flight_windows(flight_id))
        index = (
            key_slot(self.layout.flight_windows(flight_id).encode()),
            key,
            f"*4\r\n$15\r\nZREMRANGEBYRANK\r\n{key}$1\r\n0\r\n{self._trim_to}"
            f"*3\r\n$6\r\nEXPIRE\r\n{key}{self._ttl}",
        )
        self._indexes[flight_id] = index
        return index

    # -- encoding -----------------------------------------------------------------------

    def encode(self, rows: Iterable[Sequence[Any]], batch_id: int, out: Outbox) -> int:
        """Append the window hashes of ``rows`` to ``out``; returns the rows encoded.

        Their indexes follow with :meth:`indexes`, once for any number of calls (one
        ZADD, trim and TTL per index key): call it before the entries are confirmed.
        """
        flights, windows = self._flights, self._windows
        by_flight = self._by_flight
        slots, payloads, replies = out.slots, out.payloads, out.replies
        ttl = self._ttl
        batch = bulk("batch_id") + bulk(str(batch_id))
        updated_at = -1
        updated_fields = ""
        count = 0
        for row in rows:
            (
                route,
                airline,
                flight_id,
                start_ms,
                end_ms,
                events,
                passengers,
                price,
                delay,
                delayed,
                share,
                updated_ms,
            ) = row
            prefix, prefix_bytes, crc, tagged_slot, flight_fields, flight_bulk, rankings = (
                flights.get((route, airline, flight_id)) or self._flight(route, airline, flight_id)
            )
            start, start_bytes, start_bulk, window_fields = windows.get(
                (start_ms, end_ms)
            ) or self._window(start_ms, end_ms)
            if updated_ms != updated_at:  # the batch's time: the same for every row
                updated_at = updated_ms
                updated_fields = (
                    bulk("updated_at")
                    + bulk(iso_utc(updated_ms))
                    + bulk("updated_at_ms")
                    + bulk(str(updated_ms))
                    + batch
                )
            key = f"${prefix_bytes + len(start)}\r\n{prefix}{start}\r\n"
            e, n, d = str(events), str(passengers), str(delayed)
            p, a, s = repr(price), repr(delay), repr(share)
            payloads.append(
                f"*34\r\n$4\r\nHSET\r\n{key}{flight_fields}{window_fields}"
                f"$11\r\nevent_count\r\n${len(e)}\r\n{e}\r\n"
                f"$16\r\ntotal_passengers\r\n${len(n)}\r\n{n}\r\n"
                f"$13\r\ndelayed_count\r\n${len(d)}\r\n{d}\r\n"
                f"$16\r\navg_ticket_price\r\n${len(p)}\r\n{p}\r\n"
                f"$17\r\navg_delay_minutes\r\n${len(a)}\r\n{a}\r\n"
                f"$13\r\ndelayed_share\r\n${len(s)}\r\n{s}\r\n"
                f"{updated_fields}*3\r\n$6\r\nEXPIRE\r\n{key}{ttl}"
            )
            slots.append(tagged_slot if tagged_slot >= 0 else crc_hqx(start_bytes, crc) % SLOTS)
            replies.append(2)
            windows_of = by_flight.get(flight_id)
            if windows_of is None:
                by_flight[flight_id] = start_bulk + key
            elif isinstance(windows_of, str):
                by_flight[flight_id] = [windows_of, start_bulk + key]
            else:
                windows_of.append(start_bulk + key)
            ranking = rankings.get(start_ms)
            if ranking is None:
                rankings[start_ms] = [(delay, flight_id, a, flight_bulk)]
            else:
                ranking.append((delay, flight_id, a, flight_bulk))
            count += 1
        out.rows += count
        return count

    def discard(self) -> None:
        """Forget the index members collected so far (their rows were not written)."""
        self._by_flight = {}
        for rankings in self._delays.values():
            rankings.clear()  # in place: cached flights hold them

    def indexes(self, out: Outbox) -> None:
        """Append the index entries of the rows encoded since the last call."""
        self._indexes_of(self._by_flight, out)
        self._route_indexes(self._delays, out)
        self.discard()

    def _indexes_of(self, by_flight: dict[str, str | list[str]], out: Outbox) -> None:
        """Per flight: one ZADD of its windows' keys (scored by start), trim, TTL."""
        indexes = self._indexes
        slots, payloads, replies = out.slots, out.payloads, out.replies
        for flight_id, members in by_flight.items():
            slot, key, tail = indexes.get(flight_id) or self._flight_index(flight_id)
            if isinstance(members, str):
                payloads.append(f"*4\r\n$4\r\nZADD\r\n{key}{members}{tail}")
            else:  # by start, then key (as write_commands sorts them)
                members.sort(key=_start_and_key)
                payloads.append(
                    f"*{2 + 2 * len(members)}\r\n$4\r\nZADD\r\n{key}{''.join(members)}{tail}"
                )
            slots.append(slot)
            replies.append(3)

    def _route_indexes(self, delays: dict[str, _Rankings], out: Outbox) -> None:
        """Per route and window: the delay ranking; per route: its windows; the route set."""
        layout = self.layout
        ttl = self.ttl_seconds
        starts: dict[str, list[int]] = {}
        for route, rankings in sorted(delays.items()):
            for start_ms, members in sorted(rankings.items()):
                members.sort(key=_delay_and_flight)
                name = layout.route_delays(route, start_ms)
                key = bulk(name)
                parts = [f"*{2 + 2 * len(members)}\r\n$4\r\nZADD\r\n{key}"]
                parts += [f"${len(a)}\r\n{a}\r\n{flight}" for _, _, a, flight in members]
                parts.append(f"*3\r\n$6\r\nEXPIRE\r\n{key}{self._ttl}")
                out.add(key_slot(name.encode()), "".join(parts), 2)
                starts.setdefault(route, []).append(start_ms)
        for route, route_starts in starts.items():
            index = layout.route_windows(route)
            zadd: list[Arg] = ["ZADD", index]
            for start_ms in route_starts:
                zadd += [start_ms, start_ms]
            commands: list[tuple[Arg, ...]] = [
                tuple(zadd),
                ("ZREMRANGEBYRANK", index, 0, -(self.top_n + 1)),
                ("EXPIRE", index, ttl),
            ]
            out.add(
                key_slot(index.encode()), "".join(_text(pack(c)) for c in commands), len(commands)
            )
        if starts:
            routes = self.layout.routes()
            commands = [("SADD", routes, *sorted(starts)), ("EXPIRE", routes, ttl)]
            out.add(
                key_slot(routes.encode()), "".join(_text(pack(c)) for c in commands), len(commands)
            )
