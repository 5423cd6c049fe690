"""Waiting with a deadline: poll a check until it is satisfied, and back off between
retries.

:func:`poll` asks ``check`` what is still missing (None: nothing) until nothing is, or
until the deadline has passed; it returns what was missing last, so that the caller's
error names both what it waited for and why it is not there yet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

T = TypeVar("T")

#: The waits of :func:`backoff`: doubling from the first, never longer than the cap.
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 10.0


def poll(
    check: Callable[[], T | None],
    *,
    deadline: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call ``check`` every ``interval`` seconds until it returns None; None then.

    ``check`` runs at least once, and again after each interval while ``clock()`` is
    before ``deadline``; at the deadline, what it returned last (what is still
    missing). An exception of ``check`` ends the wait at once.
    """
    retrying: tenacity.Retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda missing: missing is not None),
        stop=lambda _: clock() >= deadline,
        wait=tenacity.wait_fixed(interval),
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    result: T | None = retrying(check)
    return result


def backoff(attempt: int, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): ``first``,
    doubled after each attempt, at most ``cap``."""
    return float(min(cap, first * 2 ** (attempt - 1)))
