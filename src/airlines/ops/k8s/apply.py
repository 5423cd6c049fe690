"""Apply the SparkApplication, waiting out an API server or webhook that is not ready."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from airlines.ops.k8s.errors import (
    ApiProblem,
    FailedCallError,
    problem_from_exception,
    waiting_log,
    worth_waiting_out,
)
from airlines.ops.k8s.manifest import Outcome, apply_outcome, owner_reference, with_owner
from airlines.waiting import retry


class SparkAppApi(Protocol):
    """What applying needs from the cluster
    (:class:`airlines.ops.k8s.client.KubernetesSparkAppApi`)."""

    def config_map_uid(self, namespace: str, name: str) -> str:
        """The uid of a ConfigMap (an API error if it does not exist)."""
        ...

    def get_spark_application(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The SparkApplication as stored, None if there is none."""
        ...

    def apply_spark_application(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply (fixed field manager, forcing conflicts); the stored result."""
        ...


class ApplyError(Exception):
    """The SparkApplication could not be applied; the message says why."""


@dataclass(frozen=True)
class ApplyResult:
    name: str
    namespace: str
    owner: str
    outcome: Outcome
    attempts: int


def _fatal(step: str, problem: ApiProblem, namespace: str, owner: str) -> ApplyError:
    if step == "owner" and problem.status == 404:
        return ApplyError(
            f"ConfigMap {owner} not found in namespace {namespace}: it carries and owns the "
            "SparkApplication, and is part of the Helm release"
        )
    return ApplyError(f"{step}: {problem.explain()}")


def apply_spark_application(
    connect: Callable[[], SparkAppApi],
    manifest: dict[str, Any],
    namespace: str,
    owner: str,
    timeout: float,
    log: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ApplyResult:
    """Apply ``manifest`` in ``namespace``, owned by the ConfigMap ``owner``.

    Each attempt connects (``connect`` may call the API: discovery), reads the owner's
    uid, reads the current object and applies. A transient problem is retried with
    backoff until ``timeout`` seconds have passed; any other fails at once. Raises
    :class:`ApplyError` naming the problem.
    """
    name = manifest["metadata"]["name"]
    manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
    attempts = 0
    api: SparkAppApi | None = None

    def attempt() -> ApplyResult:
        nonlocal attempts, api
        attempts += 1
        step = "connect"
        try:
            if api is None:
                api = connect()
            step = "owner"
            uid = api.config_map_uid(namespace, owner)
            step = "read"
            before = api.get_spark_application(namespace, name)
            step = "apply"
            after = api.apply_spark_application(with_owner(manifest, owner_reference(owner, uid)))
        except Exception as exc:
            problem = problem_from_exception(exc)
            if problem is None:
                raise
            raise FailedCallError(step, problem) from exc
        return ApplyResult(name, namespace, owner, apply_outcome(before, after), attempts)

    try:
        # Backing off from a second: the webhook is often just starting.
        return retry(
            attempt,
            retryable=worth_waiting_out,
            deadline=clock() + timeout,
            on_wait=waiting_log(log),
            clock=clock,
            sleep=sleep,
        )
    except FailedCallError as failed:
        if not failed.problem.transient:
            raise _fatal(failed.step, failed.problem, namespace, owner) from failed
        raise ApplyError(
            f"gave up after {timeout:g}s and {attempts} attempts; last problem: {failed}"
        ) from failed
