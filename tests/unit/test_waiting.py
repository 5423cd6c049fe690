"""Polling with a deadline and backing off, on a fake clock."""

from __future__ import annotations

import pytest
from tests.unit.fake_clock import FakeClock

from airlines.waiting import backoff, poll


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
        lambda: next(answers), deadline=1.0, interval=0.3, clock=clock, sleep=clock.sleep
    )

    # Asked at 0, 0.3, 0.6, 0.9 (before the deadline) and once more after the last wait.
    assert missing == "e"
    assert clock.sleeps == [0.3] * 4


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
