"""The marks of ``airlines smoke`` (``helm test``): the marker records it puts on the input
topics, which the streaming job must skip, and the heartbeat hash the job's sink keeps.

Both the producer of a mark (:mod:`airlines.ops.smoke`) and its readers (the job, the
tests) take them from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from airlines.contract.redis_layout import KeyLayout

#: Header and key of smoke-test marker messages (consumers should skip them).
SMOKE_HEADER = "airlines-smoke"
SMOKE_KEY = b"__airlines_smoke__"


def heartbeat_key(key_prefix: str) -> str:
    """The hash the streaming job's sink updates after every batch."""
    return KeyLayout(key_prefix).heartbeat()


def is_smoke_marker(key: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
    """True for a message produced by ``airlines smoke``: its key *and* its header say so
    (the streaming job decides the same way; a record with only one of them is judged as
    any other record is)."""
    return key == SMOKE_KEY and any(name == SMOKE_HEADER for name, _ in headers or ())
