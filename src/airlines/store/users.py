"""The Redis ACL users of a deployment, and what each may do: one table, two users of it.

The local stack writes its ACL file from :func:`render_acl`, and the chart's Redis start
script can run ``airlines redis acl render`` to do the same from its mounted passwords.

=============  ================================================================
user           may
=============  ================================================================
``writer``     the streaming job's sink: exactly the commands it sends
               (:mod:`airlines.contract.redis_layout`, :mod:`airlines.store.writer`),
               on the analytics keys only
``reader``     the dashboard and ``airlines query``: read-only, on the analytics
               keys only (:func:`airlines.store.readonly.acl_rules`)
``admin``      cluster formation, the bootstrap hook, health checks and smoke
               tests: everything; the only user allowed FLUSHALL, FLUSHDB, CONFIG,
               DEBUG and KEYS
``replication``  a replica's ``masteruser``: PSYNC, REPLCONF and PING, no keys
=============  ================================================================

The ``default`` user is off: a connection that does not log in can do nothing.
Passwords are stored as SHA-256 hashes (``#<hex>``), never in clear, in the ACL file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from airlines.store.readonly import acl_rules as reader_rules

WRITER_USER = "writer"
READER_USER = "reader"
ADMIN_USER = "admin"
REPLICATION_USER = "replication"

#: The commands the sink sends (window hashes, indexes, the heartbeat and batch log,
#: trims and TTLs), the replica acknowledgement it waits for, and what a cluster writer
#: needs to follow the slot map (CLUSTER SLOTS, ASKING after an ASK redirection).
WRITER_COMMANDS = (
    "hset",
    "expire",
    "zadd",
    "zremrangebyrank",
    "zremrangebyscore",
    "sadd",
    "wait",
    "asking",
    "cluster|slots",
)
#: What a replica sends its primary to replicate (Redis's documented minimum).
REPLICATION_COMMANDS = ("psync", "replconf", "ping")
#: Commands that only the admin may run (denied to every other user).
ADMIN_ONLY = ("flushall", "flushdb", "config", "debug", "keys")


def writer_rules(prefixes: Sequence[str]) -> list[str]:
    """The sink's commands, on the keys under ``prefixes`` only."""
    return [
        "resetkeys",
        "resetchannels",
        "-@all",
        *(f"~{prefix}:*" for prefix in prefixes),
        *(f"+{command}" for command in WRITER_COMMANDS),
    ]


def read_rules(prefixes: Sequence[str]) -> list[str]:
    """The dashboard's read-only rules, reading the keys under ``prefixes`` only."""
    first, *others = prefixes
    rules = reader_rules(first)
    at = rules.index(f"%R~{first}:*") + 1
    return rules[:at] + [f"%R~{prefix}:*" for prefix in others] + rules[at:]


def admin_rules(prefixes: Sequence[str]) -> list[str]:
    """Every command on every key and channel."""
    return ["~*", "&*", "+@all"]


def replication_rules(prefixes: Sequence[str]) -> list[str]:
    """What a replica's ``masteruser`` needs; no keys."""
    return ["resetkeys", "resetchannels", "-@all", *(f"+{c}" for c in REPLICATION_COMMANDS)]


@dataclass(frozen=True)
class RedisUser:
    name: str
    purpose: str
    #: The user's rules, given the key prefixes of the analytics.
    rules: Callable[[Sequence[str]], list[str]]


#: Every ACL user of a deployment (the ``default`` user is not one: it is off).
USERS: tuple[RedisUser, ...] = (
    RedisUser(
        WRITER_USER, "the streaming job's sink: its writes, on the analytics keys", writer_rules
    ),
    RedisUser(
        READER_USER, "the dashboard and `airlines query`: reads of the analytics keys", read_rules
    ),
    RedisUser(ADMIN_USER, "cluster formation, bootstrap, health checks: everything", admin_rules),
    RedisUser(REPLICATION_USER, "replicas (masteruser): PSYNC, REPLCONF, PING", replication_rules),
)
USER_NAMES = tuple(user.name for user in USERS)


class AclError(ValueError):
    """A password is missing or unusable; the message names the user."""


def password_hash(password: str) -> str:
    """``#<sha256 hex>``: how an ACL rule names a password without holding it."""
    return "#" + hashlib.sha256(password.encode("utf-8")).hexdigest()


def acl_line(user: RedisUser, password: str, prefixes: Sequence[str]) -> str:
    """``user <name> reset on #<sha256> <rules...>``: one line of an ACL file."""
    if not password or any(c.isspace() for c in password):
        raise AclError(f"redis user {user.name}: the password is empty or contains whitespace")
    return " ".join(
        ["user", user.name, "reset", "on", password_hash(password), *user.rules(prefixes)]
    )


def render_acl(passwords: Mapping[str, str], prefixes: Sequence[str]) -> str:
    """An ACL file (``aclfile``): every user of :data:`USERS`, and ``default`` off.

    ``prefixes``: the key prefixes (``redis.keyPrefix``; a Redis glob) the writer and
    the reader may use; at least one.
    """
    if not prefixes:
        raise AclError("redis ACL: at least one key prefix is needed")
    missing = [name for name in USER_NAMES if name not in passwords]
    if missing:
        raise AclError(f"redis users without a password: {', '.join(missing)}")
    lines = ["user default reset off resetkeys resetchannels -@all"]
    lines += [acl_line(user, passwords[user.name], prefixes) for user in USERS]
    return "\n".join(lines) + "\n"


def read_passwords(directory: Path) -> dict[str, str]:
    """``<directory>/<user>`` for every user (a Secret mounted with one key per user)."""
    passwords = {}
    for name in USER_NAMES:
        path = directory / name
        try:
            passwords[name] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise AclError(f"redis user {name}: cannot read {path}: {exc.strerror}") from exc
    return passwords
