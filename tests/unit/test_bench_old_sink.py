"""The sink baseline's old package: unpacked from git, run in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from benchmarks import old_sink

from airlines.store.writer import SinkSettings

SETTINGS = SinkSettings(
    nodes=("127.0.0.1:1",),
    username="admin",
    password="secret",
    key_prefix="bold",
    ttl_seconds=600,
    top_n=10,
    ack_replicas=1,
)


@pytest.fixture(scope="module")
def old_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return old_sink.extract_src(tmp_path_factory.mktemp("old"))


def test_the_old_commit_holds_the_old_sink(old_src: Path) -> None:
    assert (old_src / "airlines" / "jobs" / "redis_sink.py").is_file()
    assert "pack_commands" in (old_src / "airlines" / "jobs" / "redis_sink.py").read_text()
    assert not (old_src / "airlines" / "store").exists()  # none of today's package


def test_a_shallow_clone_fails_naming_the_commit(tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{old_sink.REPOSITORY}", str(clone)],
        check=True,
    )
    with pytest.raises(old_sink.OldSinkUnavailableError) as failure:
        old_sink.extract_src(tmp_path / "out", repository=clone)
    assert old_sink.OLD_SINK_COMMIT in str(failure.value)
    assert "shallow" in str(failure.value)
    assert not (tmp_path / "out").exists()


def test_the_old_sink_knows_no_tls() -> None:
    assert old_sink.old_settings(SETTINGS)["username"] == "admin"
    assert "tls_ca_file" not in old_sink.old_settings(SETTINGS)
    with pytest.raises(old_sink.OldSinkUnavailableError, match="TLS"):
        old_sink.old_settings(replace(SETTINGS, tls_ca_file="/ca.pem"))


def test_the_old_package_runs_whole_in_its_process(old_src: Path) -> None:
    # No rows: the old partition writer sends nothing, so no Redis is needed.
    with old_sink.OldSink(old_src, SETTINGS, []) as sink:
        written = sink.write()
    assert (written.rows, written.commands) == (0, 0)


def test_the_worker_refuses_todays_package(old_src: Path) -> None:
    # Without the old src on PYTHONPATH, `airlines` is today's (installed) package.
    done = subprocess.run(
        [sys.executable, "-P", str(old_sink.WORKER), str(old_src)],
        input="",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "not from" in done.stderr
