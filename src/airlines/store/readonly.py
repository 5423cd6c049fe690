"""The dashboard's Redis client: it can only read.

What "read-only" means here: once a connection of the dashboard's client has logged in,
every command it sends is packed by :class:`ReadOnlyPacker` (single commands and
pipelines alike: redis-py packs both with the connection's packer), which refuses,
before anything reaches Redis, any command that is not in :data:`READ_COMMANDS`: reads
of the analytics keys, and what a cluster client needs to find the slots. A write
raises :class:`ReadOnlyViolationError` instead of being sent.

On Kubernetes the chart goes further: the dashboard logs in as a Redis ACL user of its
own (:func:`acl_rules`), which Redis itself allows only those commands, only on keys
under the analytics prefix.
"""

from __future__ import annotations

from typing import Any

from redis.cluster import RedisCluster
from redis.connection import Connection

from airlines.config import RedisConfig
from airlines.store.connect import cluster_client

#: Commands that read analytics (the readers of :mod:`airlines.store.reader`).
READ_DATA_COMMANDS = frozenset(
    {"HGETALL", "HGET", "SMEMBERS", "SISMEMBER", "ZRANGE", "ZREVRANGE", "ZCARD", "EXISTS"}
)
#: Commands a cluster client sends to (re)connect, log in and learn the slot map;
#: CLUSTER and CLIENT only with the subcommands of :data:`SUBCOMMANDS`.
CONNECTION_COMMANDS = frozenset(
    {"AUTH", "HELLO", "PING", "READONLY", "COMMAND", "CLUSTER", "CLIENT", "ECHO"}
)
SUBCOMMANDS = {
    "CLUSTER": frozenset({"SLOTS", "SHARDS", "NODES", "INFO", "MYID"}),
    # SETINFO (Redis 7.2+) and MAINT_NOTIFICATIONS (Redis 8+) belong to redis-py's login.
    "CLIENT": frozenset({"SETINFO", "SETNAME", "GETNAME", "ID", "MAINT_NOTIFICATIONS"}),
}
READ_COMMANDS = READ_DATA_COMMANDS | CONNECTION_COMMANDS
#: Subcommands the ACL user is granted: those of Redis 7.0 (where an unknown one is an
#: error); redis-py ignores a refused SETINFO or MAINT_NOTIFICATIONS at login.
ACL_SUBCOMMANDS = {
    "CLUSTER": SUBCOMMANDS["CLUSTER"],
    "CLIENT": frozenset({"SETNAME", "GETNAME", "ID"}),
}


class ReadOnlyViolationError(RuntimeError):
    """The dashboard tried to send a command that is not a read (a bug: refused)."""


def _word(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode(errors="replace").upper()
    return str(value).upper()


def check_read_only(args: tuple[Any, ...]) -> None:
    """Raise :class:`ReadOnlyViolationError` unless ``args`` is an allowed read command."""
    if not args:
        raise ReadOnlyViolationError("empty command")
    # redis-py may pass "CLUSTER SLOTS" as one argument.
    words = _word(args[0]).split() + [_word(a) for a in args[1:2]]
    name = words[0]
    if name not in READ_COMMANDS:
        raise ReadOnlyViolationError(f"the dashboard only reads Redis; refused {name}")
    allowed = SUBCOMMANDS.get(name)
    if allowed is not None and (len(words) < 2 or words[1] not in allowed):
        sub = words[1] if len(words) > 1 else ""
        refused = f"{name} {sub}".strip()
        raise ReadOnlyViolationError(f"the dashboard only reads Redis; refused {refused}")


class ReadOnlyPacker:
    """Packs commands for a connection, refusing anything but :data:`READ_COMMANDS`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def pack(self, *args: Any) -> Any:
        check_read_only(args)
        return self.inner.pack(*args)


def make_read_only(connection: Connection) -> None:
    """Called on every (re)connection once logged in: from now on it only reads.

    redis-py packs every command of a connection, pipelined or not, with the
    connection's ``_command_packer``; wrapping it is the one place that sees them all
    (a test checks a write is refused, so a change in redis-py cannot go unnoticed).
    """
    packer = connection._command_packer
    if not isinstance(packer, ReadOnlyPacker):
        connection._command_packer = ReadOnlyPacker(packer)


def read_only_client(config: RedisConfig) -> RedisCluster:
    """A cluster client of the analytics that can only read (see the module docstring)."""
    return cluster_client(config, redis_connect_func=make_read_only, socket_timeout=5)


def acl_rules(key_prefix: str) -> list[str]:
    """Redis ACL rules of the dashboard's user: read commands, on the analytics keys only.

    ``%R~`` grants reading keys under the prefix and nothing else; the commands are the
    ones :data:`READ_COMMANDS` allows (Redis checks both).
    """
    rules = ["resetkeys", "resetchannels", "-@all", f"%R~{key_prefix}:*"]
    rules += [f"+{c.lower()}" for c in sorted(READ_COMMANDS - set(SUBCOMMANDS))]
    for name, subs in sorted(ACL_SUBCOMMANDS.items()):
        rules += [f"+{name.lower()}|{s.lower()}" for s in sorted(subs)]
    return rules
