"""The Redis ACL users' table: the writer's commands are the sink's, the file is sound."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from benchmarks.sink import window_rows

from airlines.contract.redis_layout import (
    BatchSummary,
    KeyLayout,
    batch_log_commands,
    heartbeat_commands,
)
from airlines.store.encoding import Outbox, WindowEncoder
from airlines.store.node import split_commands
from airlines.store.users import (
    ADMIN_ONLY,
    USER_NAMES,
    WRITER_COMMANDS,
    AclError,
    read_passwords,
    render_acl,
)
from airlines_testkit.stack import run_cli


def _sink_commands() -> set[str]:
    """Every command name the sink sends for a batch: windows, indexes, heartbeat, log."""
    layout = KeyLayout("aa")
    out = Outbox()
    encoder = WindowEncoder(layout, ttl_seconds=60, top_n=5)
    encoder.encode(window_rows(500), 1, out)
    encoder.indexes(out)
    out.add_commands(heartbeat_commands(layout, batch_id=1, rows=1, now_ms=1, ttl_seconds=60))
    summary = BatchSummary(1, 1, 1, 1, 0, 0, 0, 1, None)
    out.add_commands(batch_log_commands(layout, summary, ttl_seconds=60))
    names = set()
    for payload in out.payloads:
        for command in split_commands(payload.encode("utf-8", "surrogateescape")):
            names.add(command[0].decode().lower())
    return names


def test_the_writer_may_send_what_the_sink_sends() -> None:
    sent = _sink_commands()
    assert sent == {"hset", "expire", "zadd", "zremrangebyrank", "zremrangebyscore", "sadd"}
    # and what the writer adds around them: WAIT, the slot map, ASK redirections
    assert set(WRITER_COMMANDS) == sent | {"wait", "cluster|slots", "asking"}


def _acl(**passwords: str) -> dict[str, list[str]]:
    text = render_acl({u: passwords.get(u, f"pw-{u}") for u in USER_NAMES}, ["aa", "t????????"])
    return {line.split()[1]: line.split()[2:] for line in text.splitlines()}


def test_the_acl_file_names_every_user_and_turns_default_off() -> None:
    users = _acl()
    assert set(users) == {"default", *USER_NAMES}
    assert "off" in users["default"]
    assert "-@all" in users["default"]
    for name in USER_NAMES:
        rules = users[name]
        assert rules[:2] == ["reset", "on"]
        assert rules[2] == "#" + hashlib.sha256(f"pw-{name}".encode()).hexdigest()
        assert f"pw-{name}" not in " ".join(rules)


def test_only_the_admin_has_every_command() -> None:
    users = _acl()
    assert users["admin"][3:] == ["~*", "&*", "+@all"]
    for name in ("writer", "reader", "replication"):
        rules = users[name]
        assert "-@all" in rules
        assert not any(r.startswith("+@") for r in rules)
        for command in ADMIN_ONLY:
            assert f"+{command}" not in rules
            assert not any(r.startswith(f"+{command}|") for r in rules)
    assert [r for r in users["writer"] if "~" in r] == ["~aa:*", "~t????????:*"]
    assert [r for r in users["reader"] if "~" in r] == ["%R~aa:*", "%R~t????????:*"]
    assert not [r for r in users["replication"] if "~" in r]
    assert {r for r in users["replication"] if r.startswith("+")} == {
        "+psync",
        "+replconf",
        "+ping",
    }


def test_a_password_with_whitespace_is_refused() -> None:
    with pytest.raises(AclError, match="redis user writer: the password is empty"):
        _acl(writer="two words")
    with pytest.raises(AclError, match="without a password: reader"):
        render_acl({u: "pw" for u in USER_NAMES if u != "reader"}, ["aa"])


def test_acl_render_command(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in USER_NAMES:
        (secrets / name).write_text(f"pw-{name}\n")
    out = tmp_path / "users.acl"
    args = ["redis", "acl", "render", "--passwords-dir", str(secrets), "--output", str(out)]
    result = run_cli(*args, "--key-prefix", "aa")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text() == render_acl(read_passwords(secrets), ["aa"])
    assert "pw-writer" not in out.read_text()
    (secrets / "reader").unlink()
    missing = run_cli(*args)
    assert missing.returncode == 1
    assert "redis user reader: cannot read" in missing.stderr
