"""Talking to the e2e cluster the way a user does: kubectl, helm, port-forwards.

Every wait polls a condition with a deadline and, when it gives up, says what it saw
last; nothing sleeps a fixed time hoping for the best.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from airlines.waiting import poll
from localkube import paths
from localkube.images import cluster_ref
from localkube.spec import Spec

ROOT = Path(__file__).resolve().parents[2]
#: The project's CLI image as pods of the cluster name it (producers, hooks, tests).
PRODUCER_IMAGE = cluster_ref("producer")
CHART = ROOT / "charts" / "airlines-analytics"
VALUES = ROOT / "values"
T = TypeVar("T")


@dataclass
class CommandCost:
    """What one kind of command (``kubectl get``, ``helm upgrade``...) cost this process."""

    count: int = 0
    cpu_seconds: float = 0.0


#: Every kubectl/helm command this pytest process ran, by tool and verb: the host side of
#: the tests' own load on the 2-core machine (printed at the end of each lane).
COMMAND_COSTS: dict[str, CommandCost] = {}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _verb(args: Sequence[str]) -> str:
    """The first word of a command line that is neither a flag nor a flag's value."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-n", "--namespace", "-f", "-c", "-l", "-o"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


class CommandError(AssertionError):
    """A kubectl/helm command failed; the message has its stderr."""


@dataclass
class Kube:
    """kubectl and helm against the e2e cluster, as its admin."""

    spec: Spec = field(default_factory=Spec)

    @property
    def env(self) -> dict[str, str]:
        bins = f"{paths.bin_dir()}:{paths.cache_dir() / 'bin'}"
        return {
            **os.environ,
            "KUBECONFIG": str(self.spec.kubeconfig),
            "PATH": f"{bins}:{os.environ.get('PATH', '')}",
        }

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 120,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cpu_before = _children_cpu()
        done = subprocess.run(
            list(argv),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
        )
        verb = _verb(argv[1:])
        cost = COMMAND_COSTS.setdefault(f"{Path(argv[0]).name} {verb}", CommandCost())
        cost.count += 1
        cost.cpu_seconds += _children_cpu() - cpu_before
        if check and done.returncode != 0:
            raise CommandError(
                f"{' '.join(argv)} exited {done.returncode}:\n"
                f"{done.stderr.strip()}\n{done.stdout.strip()[-4000:]}"
            )
        return done

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: str | None = None
    ) -> str:
        return self.run(["kubectl", *args], check=check, timeout=timeout, stdin=stdin).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def helm(self, *args: str, check: bool = True, timeout: float = 1500) -> str:
        return self.run(["helm", *args], check=check, timeout=timeout).stdout

    def can_i(
        self,
        namespace: str,
        service_account: str,
        verb: str,
        resource: str,
        *,
        in_namespace: str | None = None,
        all_namespaces: bool = False,
        subresource: str | None = None,
    ) -> bool:
        """``kubectl auth can-i`` as a service account (yes/no, never an error)."""
        args = [
            "auth",
            "can-i",
            verb,
            resource,
            f"--as=system:serviceaccount:{namespace}:{service_account}",
        ]
        args += ["-A"] if all_namespaces else ["-n", in_namespace or namespace]
        args += [f"--subresource={subresource}"] if subresource else []
        out = self.kubectl(*args, check=False).strip()
        return out == "yes"

    @contextmanager
    def port_forward(self, namespace: str, target: str, remote_port: int) -> Iterator[int]:
        """``kubectl port-forward`` to a free loopback port; yields that port."""
        proc = subprocess.Popen(
            [
                "kubectl",
                "-n",
                namespace,
                "port-forward",
                "--address",
                "127.0.0.1",
                target,
                f":{remote_port}",
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 30
            port = None
            seen = []
            while port is None and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
                match = re.search(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
                if match:
                    port = int(match.group(1))
            if port is None:
                raise CommandError(f"port-forward {target}: {''.join(seen)}")
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(
    what: str, probe: Callable[[], T | None], timeout: float, interval: float = 2.0
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds
    with the last value or error it produced."""
    found: list[T] = []

    def missing() -> tuple[object] | None:  # what the probe gave last, while not yet
        try:
            value = probe()
        except (CommandError, subprocess.SubprocessError, ValueError, KeyError) as exc:
            return (exc,)
        if value:
            found.append(value)
            return None
        return (value,)

    last = poll(missing, deadline=time.monotonic() + timeout, interval=interval)
    if last is not None:
        raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last[0]})")
    return found[-1]
