"""Stop a StatefulSet's pods before the rest of a release goes: the chart's pre-delete hook.

``helm uninstall`` deletes every object of a release at once. Kafka brokers in ZooKeeper
mode shut down cleanly only while ZooKeeper answers (the controller moves leadership
off the broker and the broker leaves its registration); with ZooKeeper deleted beside
them, the controller broker waits out its whole termination grace period (120 s) and
the next install recovers logs that were not closed cleanly (the PVCs are kept). Scaling
the brokers to zero first, while ZooKeeper still runs, gives each a controlled shutdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from airlines.ops.k8s.errors import (
    FailedCallError,
    problem_from_exception,
    waiting_log,
    worth_waiting_out,
)
from airlines.waiting import poll, retry

#: Between looks at whether the pods are gone.
POLL = 1.0

T = TypeVar("T")


class StatefulSetApi(Protocol):
    """What stopping needs (:class:`airlines.ops.k8s.client.KubernetesStatefulSetApi`)."""

    def get_replicas(self, namespace: str, name: str) -> int | None:
        """``spec.replicas`` of the StatefulSet's scale, None if there is no such StatefulSet."""
        ...

    def scale(self, namespace: str, name: str, replicas: int) -> None:
        """Set ``spec.replicas`` through the scale subresource."""
        ...

    def pod_exists(self, namespace: str, name: str) -> bool:
        """Whether a pod of that name exists (terminating counts)."""
        ...


class StopError(Exception):
    """The pods could not be stopped in time; the message says which and why."""


@dataclass(frozen=True)
class StopResult:
    replicas_before: int | None  # None: there was no such StatefulSet
    seconds: float


def stop_statefulset(
    api: StatefulSetApi,
    namespace: str,
    name: str,
    timeout: float,
    log: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> StopResult:
    """Scale ``name`` to 0 and wait until none of its pods exists.

    Pods are named ``<name>-<ordinal>``; the ones waited for are those of the replica
    count read before scaling. Transient API problems are retried until ``timeout``
    seconds have passed; anything else raises :class:`StopError` at once, as does a pod
    still there at the deadline. A StatefulSet that does not exist is nothing to stop.
    """
    start = clock()
    deadline = start + timeout

    def call(step: str, action: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return action()
            except Exception as exc:
                problem = problem_from_exception(exc)
                if problem is None:
                    raise
                raise FailedCallError(step, problem) from exc

        try:
            return retry(
                attempt,
                retryable=worth_waiting_out,
                deadline=deadline,
                on_wait=waiting_log(log),
                clock=clock,
                sleep=sleep,
            )
        except FailedCallError as failed:
            raise _stop_error(failed, timeout) from failed

    replicas = call("read", lambda: api.get_replicas(namespace, name))
    if replicas is None:
        log(f"statefulset {name} not found in namespace {namespace}: nothing to stop")
        return StopResult(None, clock() - start)
    if replicas > 0:
        call("scale", lambda: api.scale(namespace, name, 0))
    pods = [f"{name}-{ordinal}" for ordinal in range(replicas)]

    def still_there() -> list[str] | None:
        left = [pod for pod in pods if call("read pod", partial(api.pod_exists, namespace, pod))]
        return left or None

    left = poll(still_there, deadline=deadline, interval=POLL, clock=clock, sleep=sleep)
    if left:
        raise StopError(
            f"statefulset {name} scaled to 0, but after {timeout:g}s these pods are "
            f"still there: {', '.join(left)}"
        )
    return StopResult(replicas, clock() - start)


def _stop_error(failed: FailedCallError, timeout: float) -> StopError:
    step, problem = failed.step, failed.problem
    if problem.status == 403:
        return StopError(
            f"{step}: forbidden (the hook's Role must allow get and patch on the "
            f"statefulset's scale and get on its pods): {problem.message}"
        )
    if not problem.transient:
        return StopError(f"{step}: {problem.explain()}")
    return StopError(f"{step}: gave up after {timeout:g}s; last problem: {problem.explain()}")
