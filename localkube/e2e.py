"""``make e2e``: the whole real-cluster tier, phase by phase, timed, always torn down.

Phases: build the cluster's binaries (Go module proxy, cached), build the images
(buildah, cached), place the chart's pinned dependency, start the cluster and import the
images, run ``pytest -m e2e tests/e2e``, stop the cluster and check nothing is left.
Ctrl-C or SIGTERM at any point still runs the teardown. Prints a table of the phases'
times at the end; the exit status is the tests' (or 1 if a phase before them failed or
anything was left behind).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from localkube import chartdeps, cluster, lanes, paths
from localkube.spec import Spec

console = Console(stderr=True, highlight=False)


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    outcome: str = "not run"


@dataclass
class Run:
    phases: list[Phase] = field(default_factory=list)

    def timed(self, name: str, action: Callable[[], object]) -> None:
        phase = Phase(name)
        self.phases.append(phase)
        console.print(f"[bold blue]==> {name}[/]")
        started = time.monotonic()
        try:
            action()
            phase.outcome = "ok"
        except BaseException:
            phase.outcome = "FAILED"
            raise
        finally:
            phase.seconds = time.monotonic() - started

    def table(self) -> Table:
        table = Table(title="make e2e: phase timings", title_justify="left")
        table.add_column("phase")
        table.add_column("time", justify="right")
        table.add_column("result")
        for phase in self.phases:
            minutes, seconds = divmod(round(phase.seconds), 60)
            table.add_row(phase.name, f"{minutes}m {seconds:02d}s", phase.outcome)
        total = sum(p.seconds for p in self.phases)
        table.add_row("total", f"{int(total // 60)}m {round(total % 60):02d}s", "")
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
        run.timed("chart dependency", chartdeps.place)

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
