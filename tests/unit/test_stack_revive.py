"""A broker killed with -9 and started again at once: retried while its old ZooKeeper
registration can still expire, and only then (real processes stand in for the JVM)."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlines.stack import local, procs
from airlines.stack.local import LocalStack, ServiceSpec, StackError
from airlines.stack.services import STALE_REGISTRATION

STALE_LINE = (
    "[2026-11-24 10:00:00,000] ERROR Error while creating ephemeral at /brokers/ids/1, "
    f"{STALE_REGISTRATION} '72057' does not match current session '72058' "
    "(kafka.zk.KafkaZkClient$CheckedEphemeral)"
)


def _script(log: Path, line: str, then: str) -> str:
    return f"open({str(log)!r}, 'a').write({line + chr(10)!r})\n{then}\n"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path / "stack")
    stack.layout.log_dir.mkdir(parents=True)
    monkeypatch.setattr(local, "check_ports_free", lambda *args, **kwargs: None)
    yield stack
    for name in ("kafka-1",):
        record = stack.record(name)
        if record is not None and procs.is_running(record):
            procs.send(record, signal.SIGKILL)


def _attempts(stack: LocalStack, monkeypatch: pytest.MonkeyPatch, scripts: list[str]) -> list[int]:
    """Each start of the service runs the next script; returns the attempts made."""
    made: list[int] = []

    def argv(spec: ServiceSpec) -> list[str]:
        made.append(len(made))
        return [sys.executable, "-c", scripts[min(len(made) - 1, len(scripts) - 1)]]

    monkeypatch.setattr(stack, "argv", argv)
    return made


def _wait_exited(stack: LocalStack, name: str) -> None:
    deadline = time.monotonic() + 10
    while stack.is_running(name):
        assert time.monotonic() < deadline, f"{name} did not exit"
        time.sleep(0.05)


def test_a_broker_exiting_on_its_old_registration_is_started_again(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = stack.layout.log("kafka-1")
    made = _attempts(
        stack,
        monkeypatch,
        [
            _script(log, STALE_LINE, "raise SystemExit(1)"),
            _script(log, "[KafkaServer id=1] started", "import time; time.sleep(60)"),
        ],
    )
    stack.start_service("kafka-1")
    _wait_exited(stack, "kafka-1")
    stack.check_alive(["kafka-1"])  # does not raise: started again
    assert len(made) == 2
    assert stack.is_running("kafka-1")
    # Running again: nothing more to do.
    assert not stack.revive("kafka-1")


def test_another_exit_is_not_retried_and_names_the_log(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = stack.layout.log("kafka-1")
    log.write_text(STALE_LINE + "\n")  # an earlier run's: not this start's
    made = _attempts(stack, monkeypatch, [_script(log, "FATAL disk full", "raise SystemExit(1)")])
    stack.start_service("kafka-1")
    _wait_exited(stack, "kafka-1")
    assert not stack.revive("kafka-1")
    with pytest.raises(
        StackError, match=r"(?s)kafka-1 exited during startup.*kafka-1\.log:.*FATAL disk full"
    ):
        stack.check_alive(["kafka-1"])
    assert len(made) == 1


def test_a_registration_that_never_goes_is_reported(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = stack.layout.log("kafka-1")
    _attempts(stack, monkeypatch, [_script(log, STALE_LINE, "raise SystemExit(1)")])
    monkeypatch.setattr(local, "STALE_RETRY_WINDOW", 0.0)
    stack.start_service("kafka-1")
    _wait_exited(stack, "kafka-1")
    with pytest.raises(StackError, match="still registered in ZooKeeper by a process that is gone"):
        stack.revive("kafka-1")


def test_only_brokers_are_revived(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    log = stack.layout.log("zookeeper")
    made = _attempts(stack, monkeypatch, [_script(log, STALE_LINE, "raise SystemExit(1)")])
    stack.start_service("zookeeper")
    _wait_exited(stack, "zookeeper")
    assert not stack.revive("zookeeper")
    assert len(made) == 1
