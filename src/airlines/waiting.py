"""Waiting with a deadline: poll a check until it is satisfied, and retry an action,
backing off, until it succeeds. Both are tenacity underneath; every wait of the project
that has a deadline goes through here.

:func:`poll` asks ``check`` what is still missing (None: nothing) until nothing is, or
until the deadline has passed; it returns what was missing last, so that the caller's
error names both what it waited for and why it is not there yet.

:func:`retry` calls ``action`` again after an exception the caller says is worth waiting
out, backing off (:func:`backoff`), until it returns or the deadline has passed; then the
last exception is raised as it is, for the caller to explain.
"""

from __future__ import annotations

import random
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
    sleep: Callable[[float], object] = time.sleep,
) -> T | None:
    """Call ``check`` every ``interval`` seconds until it returns None; None then.

    ``check`` runs at least once, and again after each interval while ``clock()`` is
    before ``deadline`` (the last wait ends at the deadline, for a last look); at the
    deadline, what it returned last (what is still missing). An exception of ``check``
    ends the wait at once.
    """
    retrying: tenacity.Retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda missing: missing is not None),
        stop=lambda _: clock() >= deadline,
        wait=lambda _: min(interval, max(0.0, deadline - clock())),
        sleep=_returning_none(sleep),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    result: T | None = retrying(check)
    return result


def backoff(attempt: int, first: float = FIRST_BACKOFF, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): ``first``,
    doubled after each attempt, at most ``cap``."""
    return float(min(cap, first * 2 ** (attempt - 1)))


def retry(
    action: Callable[[], T],
    *,
    retryable: Callable[[BaseException], bool],
    deadline: float,
    on_wait: Callable[[int, BaseException, float], None] | None = None,
    first: float = FIRST_BACKOFF,
    cap: float = MAX_BACKOFF,
    jitter: bool = False,
    already_failed: BaseException | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Call ``action`` until it returns, and return what it returned.

    ``already_failed``: the caller's own first attempt failed so, and the first call of
    ``action`` is already the second attempt (after a wait).

    After an exception that ``retryable`` accepts, ``action`` runs again after
    :func:`backoff` of the attempt (``first`` doubling up to ``cap``; with ``jitter``, a
    random half to all of it, so that many clients do not retry in lockstep), never
    waiting past ``deadline``; ``on_wait(attempt, exception, seconds)`` hears of each
    wait first. Any other exception, and a retryable one once ``clock()`` has reached
    the deadline, is raised as it is.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        seconds = backoff(state.attempt_number, first, cap)
        if jitter:
            seconds *= random.uniform(0.5, 1.0)
        return min(seconds, max(0.0, deadline - clock()))

    def before_sleep(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        if on_wait is not None and failure is not None:
            on_wait(state.attempt_number, failure, state.upcoming_sleep)

    earlier = iter(() if already_failed is None else (already_failed,))

    def attempt() -> T:
        failure = next(earlier, None)
        if failure is not None:
            raise failure
        return action()

    retrying: tenacity.Retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(retryable),
        stop=lambda _: clock() >= deadline,
        wait=wait,
        sleep=_returning_none(sleep),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(attempt)


def _returning_none(sleep: Callable[[float], object]) -> Callable[[float], None]:
    """``sleep`` as tenacity types it (``threading.Event.wait`` returns a bool)."""

    def pause(seconds: float) -> None:
        sleep(seconds)

    return pause
