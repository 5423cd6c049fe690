"""``airlines stack``: real processes up, reported, and all gone after ``down``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from airlines.cli.common import airlines_command
from airlines.config import load_config
from airlines.stack import procs
from airlines.stack.ports import find_free_plan
from airlines.stack.status import StackStatus
from airlines_testkit import stack as testing
from airlines_testkit.stack import RunningStack, run_cli

pytestmark = pytest.mark.integration


def status_of(root: Path) -> tuple[int, StackStatus]:
    result = run_cli("stack", "status", "--json", env={"AIRLINES_STACK_DIR": str(root)})
    return result.returncode, StackStatus.model_validate_json(result.stdout)


def test_status_of_the_session_stack(stack: RunningStack) -> None:
    code, status = status_of(stack.root)
    assert code == 0, status.problems
    assert status.up
    assert status.state == "up"
    assert status.bootstrap_servers == stack.config.kafka.bootstrap_servers
    assert status.redis_nodes == stack.config.redis.nodes
    assert [s.name for s in status.services][:4] == ["zookeeper", "kafka-0", "kafka-1", "kafka-2"]
    assert len(status.services) == 10
    assert all(s.running and s.ready and s.pid for s in status.services)
    assert Path(status.config_path) == stack.config_path


def test_a_broker_started_again_right_after_kill_9_comes_back(stack: RunningStack) -> None:
    """kill -9 leaves the broker's registration in ZooKeeper until its session expires; a
    broker started at once exits on it ("node already exists"). The stack starts it again
    until the old registration is gone, and the broker rejoins every ISR."""
    log = stack.local.layout.log("kafka-2")
    try:
        stack.kill_broker(2)
        before = log.stat().st_size
        stack.start_broker(2)
        stack.wait_broker_ready(2, timeout=120)
        with log.open("rb") as handle:
            handle.seek(before)
            restarts = handle.read().decode(errors="replace").count("KafkaServer id=2] started")
        assert restarts == 1, "the broker did not come back exactly once"
    finally:
        stack.ensure_healthy()


def test_up_status_down_leaves_no_process(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    env = {"AIRLINES_STACK_DIR": str(root)}
    plan = find_free_plan()
    try:
        up = run_cli("stack", "up", "--detach", "--port-base", str(plan.zookeeper), env=env)
        assert up.returncode == 0, up.stderr
        assert "stack up in" in up.stdout

        code, status = status_of(root)
        assert code == 0, status.problems
        assert status.up
        assert status.zookeeper == f"127.0.0.1:{plan.zookeeper}"
        pids = [s.pid for s in status.services if s.pid is not None]
        assert len(pids) == 10
        assert sorted(pids) == procs.leftovers(root)
        # the generated config and the password file
        config = load_config(status.config_path)
        assert config.kafka.bootstrap_servers == plan.bootstrap_servers
        assert config.redis.password_file == status.redis_password_file
        mode = stat.S_IMODE(os.stat(status.redis_password_file).st_mode)
        assert mode == 0o600
        assert (root / ".gitignore").read_text().strip().endswith("*")

        again = run_cli("stack", "up", "--detach", env=env)
        assert again.returncode == 0, again.stderr
        assert "already up" in again.stdout

        down = run_cli("stack", "down", env=env)
        assert down.returncode == 0, down.stderr
        assert "no process of the stack is left" in down.stdout
        assert procs.leftovers(root) == []
        assert not any(procs.pid_alive(pid) for pid in pids)

        code, status = status_of(root)
        assert code == 1
        assert status.state == "down"
        assert not any(s.running for s in status.services)

        # its data belongs to these ports: other ones are refused, nothing starts
        other = find_free_plan()
        moved = run_cli("stack", "up", "-d", "--port-base", str(other.zookeeper), env=env)
        assert moved.returncode == 1
        assert f"holds data of a stack on other ports (ZooKeeper {plan.zookeeper}" in moved.stderr
        assert procs.leftovers(root) == []

        purge = run_cli("stack", "down", "--purge", env=env)
        assert purge.returncode == 0, purge.stderr
        assert not root.exists()
    finally:
        run_cli("stack", "down", env=env)
        assert procs.leftovers(root) == []


def test_foreground_up_stops_everything_on_sigterm(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    env = {**os.environ, "AIRLINES_STACK_DIR": str(root), "COLUMNS": "200"}
    plan = find_free_plan()
    up = subprocess.Popen(
        [*airlines_command(), "stack", "up", "--port-base", str(plan.zookeeper)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "Running in the foreground" in line:
                break
        assert up.poll() is None, up.communicate()
        code, status = status_of(root)
        assert code == 0, status.problems
        assert len(procs.leftovers(root)) == 10
        up.send_signal(signal.SIGTERM)
        out, err = up.communicate(timeout=90)
        assert up.returncode == 0, err
        assert "stack stopped; no process left" in out
        assert procs.leftovers(root) == []
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        run_cli("stack", "down", env={"AIRLINES_STACK_DIR": str(root)})


def test_refuses_when_a_port_is_busy(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    plan = find_free_plan()
    busy = plan.kafka[1]
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", busy))
        squatter.listen()
        result = run_cli(
            "stack",
            "up",
            "-d",
            "--port-base",
            str(plan.zookeeper),
            env={"AIRLINES_STACK_DIR": str(root)},
        )
    assert result.returncode == 1
    assert f"kafka-1 port {busy}" in result.stderr
    assert "nothing was started" in result.stderr
    assert procs.leftovers(root) == []
    assert not (root / "run").exists()


def test_missing_prerequisites_say_what_to_install(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    env = {
        "AIRLINES_STACK_DIR": str(root),
        "PATH": str(tmp_path),
        "JAVA_HOME": "",
        "AIRLINES_CACHE": str(tmp_path / "cache"),
    }
    result = run_cli("stack", "up", "-d", "--port-base", "15000", env=env)
    assert result.returncode == 1
    assert "apt-get install openjdk-17-jre-headless" in result.stderr
    assert "redis-server was not found (Redis 7.4.6+ or 8.0+" in result.stderr
    assert f"'make setup', which builds it into {tmp_path / 'cache'}" in result.stderr
    assert "nothing was started" in result.stderr

    (tmp_path / "jars" / "kafka").mkdir(parents=True)
    result = run_cli(
        "stack",
        "up",
        "-d",
        env={"AIRLINES_STACK_DIR": str(root), "AIRLINES_JARS_DIR": str(tmp_path / "jars")},
    )
    assert result.returncode == 1
    assert "Kafka/ZooKeeper jars are not resolved" in result.stderr
    assert "run 'make setup'" in result.stderr
    assert not root.exists()


def test_a_failed_start_stops_what_it_started(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    plan = find_free_plan()
    result = run_cli(
        "stack",
        "up",
        "-d",
        "--port-base",
        str(plan.zookeeper),
        "--timeout",
        "2s",
        env={"AIRLINES_STACK_DIR": str(root)},
    )
    assert result.returncode == 1
    assert "within 2s" in result.stderr or "timed out" in result.stderr
    assert "Everything this run started was stopped" in result.stderr
    assert procs.leftovers(root) == []
    assert not (root / "data").exists()
    assert all(not port_listens(port) for port in plan.named().values())


def port_listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_stacks_of_dead_test_sessions_are_reaped(tmp_path: Path) -> None:
    root = tmp_path / "pytest-0" / "stack0"
    root.mkdir(parents=True)
    dead_owner = procs.ProcessRecord(2**22 + 1, 1.0, ("pytest",))
    procs.write_pid_file(root / testing.OWNER_FILE, dead_owner)
    # A server that stays up: with no TCP port it needs a socket, else it exits at once
    # (which raced the reaper). The socket's path is short: sun_path holds 108 bytes.
    sockets = Path(tempfile.mkdtemp(prefix="reap-"))
    socket_path = sockets / "redis.sock"
    orphan = procs.spawn(
        ["redis-server", "--port", "0", "--unixsocket", str(socket_path), "--save", ""],
        cwd=root,
        output=root / "redis.out",
    )
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists() or procs.leftovers(root) != [orphan.pid]:
            assert time.monotonic() < deadline, (
                procs.leftovers(root),
                (root / "redis.out").read_text(),
            )
            time.sleep(0.1)
        assert testing.reap_orphaned_stacks(tmp_path) == [root]
        assert procs.leftovers(root) == []
        assert not procs.is_running(orphan)
    finally:
        procs.stop({"orphan": orphan}, timeout=5)
        shutil.rmtree(sockets, ignore_errors=True)


def test_a_config_the_stack_cannot_hold_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    config = tmp_path / "base.yaml"
    config.write_text("topics:\n- name: east\n  region: east-coast\n  replicationFactor: 4\n")
    env = {"AIRLINES_STACK_DIR": str(root)}
    port = str(find_free_plan().zookeeper)
    result = run_cli("stack", "up", "-d", "--port-base", port, "--config", str(config), env=env)
    assert result.returncode == 1
    assert "topics[0].replicationFactor: 4 is more than the local stack's 3 brokers" in (
        result.stderr
    )
    assert "nothing was started" in result.stderr
    assert procs.leftovers(root) == []
