"""Which Kubernetes API errors are worth waiting out, and how to say what went wrong.

On a fresh install the Spark Operator's webhook pod is created with the release, so for
a while the API server cannot call it and refuses every SparkApplication with
``500 InternalError: failed calling webhook ...`` (connection refused, no endpoints, a
certificate not injected yet, a timeout). That, an API server that does not answer and
the overload statuses are transient: the hook retries them. Anything else (403
Forbidden, 422 Invalid, a webhook that *denies* the object...) will not fix itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import urllib3.exceptions
from kubernetes.client.exceptions import ApiException

#: Statuses that mean "try again later".
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
WEBHOOK_NOT_ANSWERING = "failed calling webhook"
_MAX_MESSAGE = 600


class NotServedError(Exception):
    """The API server does not serve a kind (discovery found no such resource)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"{api_version} {kind}")
        self.api_version = api_version
        self.kind = kind


@dataclass(frozen=True)
class ApiProblem:
    """One failed API call: HTTP status (None: no response at all), reason, message."""

    status: int | None
    reason: str
    message: str

    @property
    def transient(self) -> bool:
        """Whether waiting can fix it (see the module docstring)."""
        if self.status is None:
            return True
        if self.status in TRANSIENT_STATUSES:
            return True
        return self.status == 500 and WEBHOOK_NOT_ANSWERING in self.message

    def explain(self) -> str:
        """One line naming the problem, for logs and the final error."""
        text = _clip(self.message)
        if self.status is None:
            return f"the API server does not answer: {text}"
        if self.status == 500 and WEBHOOK_NOT_ANSWERING in self.message:
            return f"the Spark Operator's admission webhook does not answer yet: {text}"
        hints = {
            401: "unauthorized (is the service-account token mounted?)",
            403: "forbidden (the hook's Role must allow get on its ConfigMap and get, "
            "create, patch on sparkapplications)",
            404: "not found",
            409: "conflict",
            422: "the API server rejected the SparkApplication as invalid",
        }
        head = hints.get(self.status, f"HTTP {self.status} {self.reason}".rstrip())
        return f"{head}: {text}"


def _clip(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"


def problem_from_response(status: int, reason: str | None, body: str | bytes | None) -> ApiProblem:
    """An API error response; its ``Status`` body (JSON) names the reason and message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    reason_text = reason or ""
    message = text
    try:
        document = json.loads(text) if text else None
    except ValueError:
        document = None
    if isinstance(document, dict):
        reason_text = str(document.get("reason") or reason_text)
        message = str(document.get("message") or text)
    if status == 0:
        # The client's way of saying the request never got an HTTP answer (TLS failure).
        return ApiProblem(None, reason_text or "no response", message or reason_text)
    return ApiProblem(status, reason_text, message or reason_text or f"HTTP {status}")


def problem_from_exception(exc: BaseException) -> ApiProblem | None:
    """The API problem an exception of the ``kubernetes`` client (or its transport) means;
    None for anything else (a bug, not the cluster)."""
    if isinstance(exc, NotServedError):
        return ApiProblem(
            404,
            "NotServed",
            f"the API server does not serve {exc.api_version} {exc.kind}: are the Spark "
            "Operator's CRDs installed?",
        )
    if isinstance(exc, ApiException):
        return problem_from_response(int(exc.status or 0), exc.reason, exc.body)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return ApiProblem(None, type(exc.reason).__name__, str(exc.reason))
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return ApiProblem(None, type(exc).__name__, str(exc) or type(exc).__name__)
    return None


class FailedCallError(Exception):
    """An API call that failed: at which step, and the problem (for the messages)."""

    def __init__(self, step: str, problem: ApiProblem) -> None:
        super().__init__(problem.explain())
        self.step = step
        self.problem = problem


def worth_waiting_out(exc: BaseException) -> bool:
    """Whether a hook retries ``exc``: a failed call whose problem is transient."""
    return isinstance(exc, FailedCallError) and exc.problem.transient


def waiting_log(log: Callable[[str], None]) -> Callable[[int, BaseException, float], None]:
    """The hooks' line before each wait (``waiting.retry``'s ``on_wait``)."""

    def waiting(attempt: int, failure: BaseException, seconds: float) -> None:
        log(f"waiting: {failure} (attempt {attempt}; next in {seconds:.0f}s)")

    return waiting
