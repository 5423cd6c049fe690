"""``make e2e``'s phase table: times, outcomes and how busy the CPUs were."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from localkube import e2e

STAT_BEFORE = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\n"
#: 300 more ticks: 150 user + 75 system busy, 50 idle + 25 iowait not.
STAT_AFTER = "cpu  250 0 125 850 75 0 0 0 0 0\ncpu0 125 0 62 425 37 0 0 0 0 0\n"


def test_cpu_ticks_count_idle_and_iowait_as_not_busy() -> None:
    assert e2e.cpu_ticks(STAT_BEFORE) == (150, 1000)
    assert e2e.busy_share(e2e.cpu_ticks(STAT_BEFORE), e2e.cpu_ticks(STAT_AFTER)) == 0.75
    assert e2e.busy_share((5, 10), (5, 10)) is None


def _render(run: e2e.Run) -> str:
    out = io.StringIO()
    Console(file=out, width=120).print(run.table())
    return out.getvalue()


def test_a_phase_records_its_time_cpu_and_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([STAT_BEFORE, STAT_AFTER, STAT_BEFORE, STAT_AFTER])
    monkeypatch.setattr(e2e, "_read_ticks", lambda: e2e.cpu_ticks(next(readings)))
    run = e2e.Run()
    run.timed("works", lambda: None)
    with pytest.raises(RuntimeError):
        run.timed("breaks", lambda: (_ for _ in ()).throw(RuntimeError("no")))
    assert [(p.name, p.outcome, p.cpu_busy) for p in run.phases] == [
        ("works", "ok", 0.75),
        ("breaks", "FAILED", 0.75),
    ]
    table = _render(run)
    assert "CPU busy" in table
    assert table.count("75%") == 2


def test_without_proc_stat_the_cpu_column_stays_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e2e, "PROC_STAT", Path("/nonexistent/stat"))
    run = e2e.Run()
    run.timed("works", lambda: None)
    assert run.phases[0].cpu_busy is None
    assert "%" not in _render(run)
