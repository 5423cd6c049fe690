"""How the tests reach a dashboard they start: its token, the arguments that give it the
token file, and GETs that send the token."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from tests.integration.processes import free_port, http_get

from airlines.paths import write_private

#: The dashboards' token in these tests (each writes it to a file of its own).
TOKEN = secrets.token_urlsafe(32)


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def auth_args(tmp_path: Path, metrics_port: int | None = None) -> list[str]:
    """The dashboard's token file (and metrics port) arguments."""
    token_file = tmp_path / f"dashboard-token-{secrets.token_hex(4)}"
    write_private(token_file, TOKEN + "\n")
    return ["--token-file", str(token_file), "--metrics-port", str(metrics_port or free_port())]


def get(url: str) -> tuple[int, bytes]:
    return http_get(url, headers=BEARER)


def api(base: str, path: str) -> tuple[int, Any]:
    status, body = get(base + path)
    return status, json.loads(body) if body else None
