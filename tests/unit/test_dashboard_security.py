"""The dashboard's security pieces on their own: the token file, the stream limiter, the
metric labels."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlines.dashboard.metrics import METHODS, method_label, status_label
from airlines.dashboard.security import (
    StreamLimiter,
    StreamLimits,
    TokenFile,
    TokenFileError,
    ensure_token_file,
    session_value,
)


def test_a_generated_token_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "dashboard" / "token"
    assert ensure_token_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert len(first.strip()) >= 43
    assert not ensure_token_file(path)
    assert path.read_text() == first


def test_the_token_is_read_again_when_its_file_is_replaced(tmp_path: Path) -> None:
    """As a rotated Secret volume is: a new file swapped in under the same name."""
    path = tmp_path / "token"
    path.write_text("a" * 32 + "\n")
    tokens = TokenFile(path)
    assert tokens.token() == "a" * 32
    fresh = tmp_path / "token.new"
    fresh.write_text("b" * 40)
    os.replace(fresh, path)
    assert tokens.token() == "b" * 40


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "holds 0 characters"),
        ("short-token", "at least 16"),
        ("with a space inside it, long enough", "printable ASCII"),
        ("ünïcödé-tökén-löng-enough", "printable ASCII"),
    ],
)
def test_a_bad_token_file_is_refused_saying_why(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "token"
    path.write_text(text)
    with pytest.raises(TokenFileError, match=problem):
        TokenFile(path)


def test_a_missing_token_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot read the token file"):
        TokenFile(tmp_path / "nowhere")


def test_the_session_is_not_the_token() -> None:
    token = "t" * 43
    assert session_value(token) != token
    assert token not in session_value(token)
    assert session_value(token) == session_value(token)
    assert session_value(token) != session_value("u" * 43)


def test_the_stream_limiter_counts_per_client_and_in_total() -> None:
    limiter = StreamLimiter(StreamLimits(total=3, per_client=2))
    assert limiter.acquire("a") is None
    assert limiter.acquire("a") is None
    assert "from this client" in (limiter.acquire("a") or "")
    assert limiter.acquire("b") is None
    assert "(3 open)" in (limiter.acquire("c") or "")
    limiter.release("a")
    assert limiter.open_streams() == 2
    assert limiter.acquire("c") is None
    for client in ("a", "b", "c"):
        limiter.release(client)
    assert limiter.open_streams() == 0


def test_metric_labels_are_from_fixed_sets() -> None:
    assert {method_label(m) for m in METHODS} == METHODS
    for odd in ("BREW", "get", "", "X" * 1000, "PROPFIND"):
        assert method_label(odd) == "other"
    assert [status_label(s) for s in (101, 200, 303, 401, 429, 503)] == [
        "1xx",
        "2xx",
        "3xx",
        "4xx",
        "4xx",
        "5xx",
    ]
    assert status_label(0) == status_label(600) == "other"
