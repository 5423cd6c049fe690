"""Polling with a deadline and backing off, on a fake clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.unit.fake_clock import FakeClock

from airlines.waiting import backoff, poll, retry


def test_poll_returns_none_once_the_check_is_satisfied() -> None:
    clock = FakeClock()
    asked: list[float] = []

    def check() -> str | None:
        asked.append(clock.now)
        return None if clock.now >= 1.0 else "not yet"

    assert poll(check, deadline=5.0, interval=0.25, clock=clock, sleep=clock.sleep) is None
    assert asked == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_poll_returns_what_was_missing_last_once_the_deadline_has_passed() -> None:
    clock = FakeClock()
    answers = iter(["a", "b", "c", "d", "e", "f"])

    missing = poll(
        lambda: next(answers), deadline=1.0, interval=0.375, clock=clock, sleep=clock.sleep
    )

    # Asked at 0, 0.375 and 0.75, and once more at the deadline: the last wait is shorter.
    assert missing == "d"
    assert clock.sleeps == [0.375, 0.375, 0.25]


def test_poll_asks_at_least_once_even_past_the_deadline() -> None:
    clock = FakeClock()
    clock.now = 10.0
    assert poll(lambda: None, deadline=1.0, interval=1.0, clock=clock, sleep=clock.sleep) is None
    assert poll(lambda: "gone", deadline=1.0, interval=1.0, clock=clock, sleep=clock.sleep) == (
        "gone"
    )
    assert clock.sleeps == []


def test_an_exception_of_the_check_ends_the_wait() -> None:
    clock = FakeClock()

    def check() -> str | None:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        poll(check, deadline=5.0, interval=0.5, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [backoff(n, first=0.5, cap=3.0) for n in range(1, 5)] == [0.5, 1.0, 2.0, 3.0]


class RefusedError(Exception):
    pass


def _refused_until(clock: FakeClock, ready_at: float) -> Callable[[], str]:
    def action() -> str:
        if clock.now < ready_at:
            raise RefusedError(f"refused at {clock.now:g}")
        return f"done at {clock.now:g}"

    return action


def test_retry_backs_off_until_the_action_succeeds_and_says_so_before_each_wait() -> None:
    clock = FakeClock()
    heard: list[tuple[int, str, float]] = []

    done = retry(
        _refused_until(clock, 7.0),
        retryable=lambda exc: isinstance(exc, RefusedError),
        deadline=60.0,
        on_wait=lambda attempt, exc, wait: heard.append((attempt, str(exc), wait)),
        clock=clock,
        sleep=clock.sleep,
    )

    assert done == "done at 7"
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert heard == [(1, "refused at 0", 1.0), (2, "refused at 1", 2.0), (3, "refused at 3", 4.0)]


def test_retry_raises_the_last_exception_after_a_last_try_at_the_deadline() -> None:
    clock = FakeClock()
    with pytest.raises(RefusedError, match="refused at 10"):
        retry(
            _refused_until(clock, 100.0),
            retryable=lambda exc: isinstance(exc, RefusedError),
            deadline=10.0,
            clock=clock,
            sleep=clock.sleep,
        )
    # 1 + 2 + 4, then the rest of the time (not 8): the last try is at the deadline.
    assert clock.sleeps == [1.0, 2.0, 4.0, 3.0]


def test_retry_raises_any_other_exception_at_once() -> None:
    clock = FakeClock()

    def broken() -> None:
        raise ValueError("not worth waiting for")

    with pytest.raises(ValueError, match="not worth"):
        retry(
            broken,
            retryable=lambda exc: isinstance(exc, RefusedError),
            deadline=10.0,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.sleeps == []


def test_retry_with_jitter_waits_half_to_all_of_each_backoff() -> None:
    clock = FakeClock()
    retry(
        _refused_until(clock, 1.0),
        retryable=lambda exc: isinstance(exc, RefusedError),
        deadline=100.0,
        first=0.05,
        cap=2.0,
        jitter=True,
        clock=clock,
        sleep=clock.sleep,
    )
    waits = iter(clock.sleeps)
    for attempt, wait in enumerate(waits, start=1):
        full = backoff(attempt, 0.05, 2.0)
        assert full / 2 <= wait <= full, (attempt, wait)
    assert sum(clock.sleeps) >= 1.0


def test_retry_after_the_callers_own_failed_attempt_waits_first() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def action() -> str:
        calls.append(clock.now)
        return "done"

    done = retry(
        action,
        retryable=lambda exc: isinstance(exc, RefusedError),
        deadline=10.0,
        already_failed=RefusedError("the caller's try"),
        clock=clock,
        sleep=clock.sleep,
    )
    assert (done, calls, clock.sleeps) == ("done", [1.0], [1.0])
