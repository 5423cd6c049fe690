"""``make e2e``: the whole real-cluster tier, phase by phase, timed, always torn down.

Phases: build the cluster's binaries (Go module proxy, cached), build the images
(buildah, cached), place the chart's pinned dependency, start the cluster and import the
images, run ``pytest -m e2e tests/e2e``, stop the cluster and check nothing is left.
Ctrl-C or SIGTERM at any point still runs the teardown. Prints a table of the phases'
times at the end, with how busy the machine's CPUs were in each (a phase near 100% is
bound by the cores, not by waiting); the exit status is the tests' (or 1 if a phase
before them failed or anything was left behind).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from localkube import chartdeps, cluster, lanes, paths
from localkube.spec import Spec

console = Console(stderr=True, highlight=False)


PROC_STAT = Path("/proc/stat")


def cpu_ticks(stat: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs from ``/proc/stat``'s first line; idle and
    iowait are not busy."""
    fields = [int(value) for value in stat.splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of all CPUs' time that was busy between two :func:`cpu_ticks` readings."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


def _read_ticks() -> tuple[int, int] | None:
    try:
        return cpu_ticks(PROC_STAT.read_text())
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    outcome: str = "not run"
    #: Share of the machine's CPU time that was busy during the phase (None: unknown).
    cpu_busy: float | None = None


@dataclass
class Run:
    phases: list[Phase] = field(default_factory=list)

    def timed(self, name: str, action: Callable[[], object]) -> None:
        phase = Phase(name)
        self.phases.append(phase)
        console.print(f"[bold blue]==> {name}[/]")
        started, ticks = time.monotonic(), _read_ticks()
        try:
            action()
            phase.outcome = "ok"
        except BaseException:
            phase.outcome = "FAILED"
            raise
        finally:
            phase.seconds = time.monotonic() - started
            after = _read_ticks()
            if ticks is not None and after is not None:
                phase.cpu_busy = busy_share(ticks, after)

    def table(self) -> Table:
        table = Table(title="make e2e: phase timings", title_justify="left")
        table.add_column("phase")
        table.add_column("time", justify="right")
        table.add_column(f"CPU busy ({os.cpu_count()} cores)", justify="right")
        table.add_column("result")
        for phase in self.phases:
            minutes, seconds = divmod(round(phase.seconds), 60)
            busy = "" if phase.cpu_busy is None else f"{phase.cpu_busy:.0%}"
            table.add_row(phase.name, f"{minutes}m {seconds:02d}s", busy, phase.outcome)
        total = sum(p.seconds for p in self.phases)
        table.add_row("total", f"{int(total // 60)}m {round(total % 60):02d}s", "", "")
        return table


def _check(argv: Sequence[str]) -> None:
    done = subprocess.run(list(argv), cwd=paths.REPO, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}")


def _progress(message: str) -> None:
    console.print(f"    {message}")


def main(pytest_args: Sequence[str] = ()) -> int:
    spec = Spec()
    run = Run()
    tests_status = 1
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run.timed("cluster tools (Go, Debian)", lambda: _check(["scripts/setup-cluster-tools.sh"]))

        def images() -> None:
            from localkube import images as image_build

            image_build.build_all(progress=_progress)

        run.timed("images (buildah)", images)
        run.timed("chart dependency", chartdeps.verify)

        def up() -> None:
            from localkube import images as image_build

            cluster.up(
                spec,
                _progress,
                lambda address: image_build.load_into_containerd(
                    image_build.build_all(progress=_progress), address=address, progress=_progress
                ),
            )

        run.timed("cluster up + image import", up)

        def tests() -> None:
            nonlocal tests_status
            tests_status = lanes.run(spec.kubeconfig, pytest_args)
            if tests_status != 0:
                raise RuntimeError(f"e2e tests exited {tests_status}")

        run.timed("e2e tests", tests)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted: tearing the cluster down[/]")
    except Exception as exc:
        console.print(f"[bold red]error:[/] {exc}")
    finally:
        signal.signal(signal.SIGTERM, previous)
        left: list[str] = []

        def down() -> None:
            left.extend(cluster.down(spec, _progress))
            if left:
                raise RuntimeError("left behind: " + "; ".join(left))

        try:
            run.timed("cluster down + leftover check", down)
        except Exception as exc:
            console.print(f"[bold red]error:[/] {exc}")
            tests_status = tests_status or 1
        console.print(run.table())
    return tests_status


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
