"""The producer's throttle: never ahead of its schedule, bursts only what is due."""

from __future__ import annotations

from airlines.produce.publisher import Throttle


class Clock:
    """A clock the test moves (the throttle's only input besides the rate)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_a_rate_everything_may_go() -> None:
    assert Throttle(None).allowance(500) == 500


def test_events_go_on_schedule_in_bursts_of_what_is_due() -> None:
    clock = Clock()
    throttle = Throttle(1000, clock)
    assert throttle.allowance(500) == 1  # the first at once
    assert throttle.allowance(500) == 0
    clock.now += 0.0105
    assert throttle.allowance(500) == 10  # 10.5 ms later: events 2-11
    clock.now += 0.2
    assert throttle.allowance(50) == 50  # at most what was asked for ...
    assert throttle.allowance(500) == 150  # ... the rest next time
    waited: list[float] = []
    throttle.wait(waited.append)
    assert abs(waited[0] - 0.0095) < 1e-9  # until a tick's worth (10 events) is due


def test_a_moderate_rate_goes_out_once_a_tick_not_once_an_event() -> None:
    clock = Clock()
    throttle = Throttle(1700, clock, tick=0.01)
    sent = wakeups = 0
    while clock.now < 101.0:  # one second
        burst = throttle.allowance(500)
        if burst:
            sent += burst
            continue
        wakeups += 1
        throttle.wait(lambda seconds: setattr(clock, "now", clock.now + seconds + 1e-9))
    assert 1700 - 17 <= sent <= 1701  # the rate holds (a tick's worth may be pending) ...
    assert wakeups <= 101  # ... with a wake-up a tick, not one an event


def test_a_slow_rate_sends_each_event_on_its_own_schedule() -> None:
    clock = Clock()
    throttle = Throttle(2, clock, tick=0.01)
    assert throttle.allowance(10) == 1
    waited: list[float] = []
    throttle.wait(waited.append)
    assert abs(waited[0] - 0.5) < 1e-9


def test_far_behind_it_starts_again_instead_of_bursting() -> None:
    clock = Clock()
    throttle = Throttle(100, clock)
    assert throttle.allowance(10_000) == 1
    clock.now += 5  # e.g. a broker outage: 500 events late
    assert throttle.allowance(10_000) == 1
    clock.now += 0.0505
    assert throttle.allowance(10_000) == 5  # on the new schedule
