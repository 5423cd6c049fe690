"""Who may open the dashboard, what the browser may do with its answers, and how many
live streams it keeps open.

* **Authentication** (:class:`AuthMiddleware`), by ``--auth``:

  - ``token`` (the default): a secret token read from a file (a mounted Secret in the
    chart, a generated 0600 file locally). A client shows it as ``Authorization: Bearer
    <token>``, or opens ``/?token=<token>`` once, as with Jupyter: the dashboard answers
    with a session cookie (HttpOnly, SameSite=Strict) and a redirect that drops the token
    from the address bar; the page, its API and its event stream then send the cookie.
    The cookie holds an HMAC of the token, not the token. Comparisons take constant time.
  - ``proxy``: an ingress or OAuth2 proxy in front authenticates; the dashboard checks
    nothing (its NetworkPolicy admits only that proxy).
  - ``none``: nobody is asked (only with ``--allow-insecure``).

  ``/healthz`` (the probes') is open in every mode; it says only "ok".
* **Security headers** (:class:`SecurityHeadersMiddleware`) on every answer: a strict
  Content-Security-Policy (scripts and everything else from this origin only; styles
  may be inline, which plotly's charts need), no framing, no MIME sniffing, no referrer.
* **Stream limits** (:class:`StreamLimiter`): live event streams per client and in
  total; beyond either, 429.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airlines.paths import cache_dir, write_private

#: The session cookie's name.
COOKIE = "airlines_dashboard_session"
#: What the session cookie holds: HMAC-SHA256(token, this).
_SESSION_PURPOSE = b"airlines-dashboard session v1"
#: Paths open without credentials: the probes' (it reveals nothing).
OPEN_PATHS = frozenset({"/healthz"})
#: Shortest token accepted from a file (a generated one has 43 characters).
MIN_TOKEN_LENGTH = 16


class AuthMode(StrEnum):
    TOKEN = "token"
    PROXY = "proxy"
    NONE = "none"


class TokenFileError(RuntimeError):
    """The token file cannot be used (the message says why)."""


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class TokenFile:
    """The token, read from its file, and read again when the file changes (a Secret
    mounted in a pod is replaced in place when it is rotated)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""
        self.token()  # fail at start, not at the first request

    def token(self) -> str:
        try:
            info = self.path.stat()
        except OSError as exc:
            raise TokenFileError(f"cannot read the token file {self.path}: {exc.strerror}") from exc
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._token = _read_token(self.path)
                self._stamp = stamp
            return self._token


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"cannot read the token file {path}: {exc}") from exc
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenFileError(
            f"the token file {path} holds {len(token)} characters; at least "
            f"{MIN_TOKEN_LENGTH} are needed"
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise TokenFileError(f"the token file {path}: the token must be printable ASCII")
    return token


def session_value(token: str) -> str:
    """The session cookie's value for ``token`` (not the token itself)."""
    return hmac.new(token.encode(), _SESSION_PURPOSE, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _bearer(connection: HTTPConnection) -> str | None:
    scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


REFUSED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>airlines-analytics · token needed</title>
</head><body>
<h1>This dashboard asks for its token</h1>
<p>Open the link <code>airlines dashboard</code> printed (it ends in <code>/?token=…</code>),
or, in Kubernetes, read the token from its Secret as the chart's notes show and open
<code>/?token=&lt;token&gt;</code>.</p>
</body></html>
"""


class AuthMiddleware:
    """Refuses (401) every request without the token or its session cookie, except to
    :data:`OPEN_PATHS` (ASGI middleware, before routing: nothing else runs for it)."""

    def __init__(self, app: ASGIApp, tokens: TokenFile) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        token = self.tokens.token()
        session = session_value(token)
        bearer = _bearer(connection)
        if bearer is not None and _same(bearer, token):
            await self.app(scope, receive, send)
            return
        login = connection.query_params.get("token")
        if login is not None and scope["type"] == "http":
            if _same(login, token):
                await self._login(connection, session)(scope, receive, send)
            else:
                await self._refuse(connection)(scope, receive, send)
            return
        if _same(connection.cookies.get(COOKIE, ""), session):
            await self.app(scope, receive, send)
            return
        await self._refuse(connection)(scope, receive, send)

    @staticmethod
    def _login(connection: HTTPConnection, session: str) -> Response:
        """Set the session cookie and send the browser back without the token in its URL."""
        rest = [(k, v) for k, v in parse_qsl(connection.url.query) if k != "token"]
        target = connection.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="strict",
            # Behind a TLS-terminating ingress the request arrives over plain HTTP: its
            # X-Forwarded-Proto says what the browser used (a forged one only makes the
            # cookie stricter).
            secure="https" in (connection.url.scheme, connection.headers.get("x-forwarded-proto")),
            path="/",
        )
        return response

    @staticmethod
    def _refuse(connection: HTTPConnection) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="airlines-dashboard"'}
        if "text/html" in connection.headers.get("accept", ""):
            return HTMLResponse(REFUSED_PAGE, status_code=401, headers=headers)
        detail = "this dashboard needs its token (Authorization: Bearer, or open /?token=...)"
        return JSONResponse({"detail": detail}, status_code=401, headers=headers)


#: The Content-Security-Policy of every answer. Everything from this origin; styles may
#: be inline because plotly.js styles its charts from script (style elements and style
#: attributes); scripts may not.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP answer, errors and 401s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True)
class StreamLimits:
    """Live event streams the dashboard keeps open."""

    total: int
    per_client: int


class StreamLimiter:
    """Counts open event streams, in total and per client; refuses one beyond a bound."""

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> str | None:
        """Take a slot for ``client``; None if taken, else why not."""
        with self._lock:
            if sum(self._open.values()) >= self.limits.total:
                return f"too many live streams ({self.limits.total} open); try again later"
            if self._open[client] >= self.limits.per_client:
                return (
                    f"too many live streams from this client ({self.limits.per_client} open); "
                    "close a tab"
                )
            self._open[client] += 1
            return None

    def release(self, client: str) -> None:
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]

    def open_streams(self) -> int:
        with self._lock:
            return sum(self._open.values())


def client_key(connection: HTTPConnection, mode: AuthMode) -> str:
    """Who a stream counts against: the user the proxy names (``X-Forwarded-User``,
    trusted only in proxy mode, where only the proxy reaches the dashboard), else the
    peer's address."""
    if mode is AuthMode.PROXY:
        user = connection.headers.get("x-forwarded-user", "")
        if user:
            return "user:" + user[:256]
    peer = connection.client
    return "addr:" + (peer.host if peer else "unknown")


def default_token_file() -> Path:
    """Where ``airlines dashboard`` keeps its token when not told: beside the cache."""
    return cache_dir() / "dashboard" / "token"


def ensure_token_file(path: Path) -> bool:
    """Create ``path`` with a new token (0600) unless it exists; True if created."""
    if path.exists():
        return False
    write_private(path, new_token() + "\n")
    return True
