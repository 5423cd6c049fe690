"""What a benchmark reports: figures, each beside the baseline measured in the same run.

Every part of ``make bench`` (sink, producer, job, freshness, memory, CPU) returns a
list of :class:`Figure`; ``python -m benchmarks`` prints them as one table (``--json``:
the same figures as JSON). Figures are printed, never asserted: a target is shown as
met or not, beside what was measured.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

#: Whether a bigger or a smaller value is better (for the target column).
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Figure:
    """One measured figure, e.g. ``sink: window rows/s`` = 231,000."""

    part: str  # "sink", "producer", "job", "freshness", "memory", "cpu"
    name: str  # what was measured, e.g. "window rows/s (HSET+EXPIRE+indexes, 3 primaries)"
    value: float
    unit: str  # "rows/s", "events/s", "s", "MiB", "CPU s per 1M records"
    better: Better = "higher"
    #: A baseline measured in the same run on the same input (its name and value).
    baseline_name: str | None = None
    baseline_value: float | None = None
    #: The target: on the value, in the figure's unit ...
    target: float | None = None
    #: ... or on the ratio to the baseline (e.g. 0.8: at least 80% of it).
    target_ratio: float | None = None
    note: str = ""  # what limits it, or how it was measured

    @property
    def ratio(self) -> float | None:
        """value / baseline (how far from the baseline), when there is one."""
        if self.baseline_value in (None, 0):
            return None
        assert self.baseline_value is not None
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: no target)."""
        if self.target_ratio is not None:
            measured, target = self.ratio, self.target_ratio
        elif self.target is not None:
            measured, target = self.value, self.target
        else:
            return None
        if measured is None:
            return None
        return measured >= target if self.better == "higher" else measured <= target

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}
