"""Pure parts of topic creation, Redis bootstrap, smoke checks and process records."""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from airlines.config import AppConfig
from airlines.contract.smoke import heartbeat_key, is_smoke_marker
from airlines.kafka.admin import min_insync_replicas, topic_specs
from airlines.ops.smoke import parse_checks
from airlines.stack import procs
from airlines.store.bootstrap import even_ranges
from airlines.store.cluster import ClusterHealth, NodeHealth, parse_cluster_nodes
from airlines.store.node import SLOTS

NODES = """\
07c3 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
67ed 127.0.0.1:7001@17001 master - 0 1426238316232 2 connected 5461-10922
292f 127.0.0.1:7002@17002,redis-2.example master - 0 14262 3 connected 10923-16383 [77->-e7d1]
6ec2 127.0.0.1:7003@17003 slave 07c3 0 1426238316232 1 connected
824f 127.0.0.1:7004@17004 slave 67ed 0 1426238317741 2 connected
e7d1 127.0.0.1:7005@17005 master,fail - 1426238316232 0 3 disconnected
"""


def test_parse_cluster_nodes() -> None:
    entries = {e.id: e for e in parse_cluster_nodes(NODES)}
    assert entries["07c3"].slots == ((0, 5460),)
    assert "myself" in entries["07c3"].flags
    assert entries["292f"].ip == "127.0.0.1"
    assert entries["292f"].bus_port == 17002
    assert entries["292f"].slots == ((10923, 16383),)
    assert entries["6ec2"].master_id == "07c3"
    assert not entries["6ec2"].is_primary
    assert entries["e7d1"].failing
    assert not entries["e7d1"].link_connected
    assert sum(e.slot_count for e in entries.values()) == SLOTS


def test_even_ranges_cover_everything_once() -> None:
    shares = even_ranges(list(range(SLOTS)), 3)
    assert shares == [[(0, 5460)], [(5461, 10921)], [(10922, 16383)]]
    gappy = even_ranges([1, 2, 3, 10, 11, 20], 2)
    assert gappy == [[(1, 3)], [(10, 11), (20, 20)]]


def test_health_reports_missing_replica_and_failing_node() -> None:
    topology = parse_cluster_nodes(NODES)
    nodes = [NodeHealth(e.endpoint, cluster_state="ok", slots_ok=SLOTS) for e in topology]
    for node in nodes:
        node.role = "slave" if node.endpoint.endswith(("7003", "7004")) else "master"
        node.master_link_up = True if node.role == "slave" else None
    nodes[-1].error = "not reachable (refused)"
    health = ClusterHealth(nodes, topology)
    assert health.slot_problems() == []
    state = " ".join(health.state_problems())
    assert "127.0.0.1:7005: not reachable" in state
    assert "flagged failing: 127.0.0.1:7005" in state
    assert health.replica_problems() == [
        "primary 127.0.0.1:7002 has 0 replica(s) attached, expected 1"
    ]


def test_health_without_any_node() -> None:
    health = ClusterHealth([], [], error="redis: no node reachable: x:1: refused")
    assert health.problems() == ["redis: no node reachable: x:1: refused"] * 3


@pytest.mark.parametrize(("rf", "isr"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync_replicas(rf: int, isr: int) -> None:
    assert min_insync_replicas(rf) == isr


def test_topic_specs_include_the_dead_letter_topic() -> None:
    specs = topic_specs(AppConfig())
    assert [s.name for s in specs][-1] == "flights-dead-letter"
    assert all(s.replication_factor == 3 for s in specs)
    # Input records may be dated at most streaming.maxFutureSkew ahead of the broker.
    assert specs[0].configs == {
        "min.insync.replicas": "2",
        "message.timestamp.after.max.ms": "3600000",
    }
    assert specs[-1].configs == {"min.insync.replicas": "2"}


def test_parse_checks() -> None:
    assert parse_checks("kafka, redis,kafka") == ["kafka", "redis"]
    with pytest.raises(ValueError, match="unknown check 'spark': choose from kafka"):
        parse_checks("kafka,spark")
    with pytest.raises(ValueError, match="none given"):
        parse_checks(",")


def test_smoke_helpers() -> None:
    assert heartbeat_key("aa") == "aa:job:heartbeat"
    # A marker by its key and its header, never by one of them alone.
    assert is_smoke_marker(b"__airlines_smoke__", [("airlines-smoke", b"1")])
    assert not is_smoke_marker(b"__airlines_smoke__", None)
    assert not is_smoke_marker(b"__airlines_smoke__", [("other", b"1")])
    assert not is_smoke_marker(b"DL1", [("airlines-smoke", b"1")])
    assert timedelta(seconds=90)  # the documented default of --analytics-within


def test_process_records_survive_pid_files_and_stop(tmp_path: Path) -> None:
    record = procs.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=tmp_path,
        output=tmp_path / "out.log",
    )
    pid_file = tmp_path / "run" / "sleeper.pid"
    procs.write_pid_file(pid_file, record)
    assert procs.read_pid_file(pid_file) == record
    assert procs.is_running(record)
    # a record with another start time or program is not "ours", even with the same pid
    assert not procs.is_running(replace(record, started=record.started + 5))
    assert not procs.is_running(replace(record, command=("redis-server", "x.conf")))
    assert procs.ProcessRecord.of(record.pid) == record
    assert procs.stop({"sleeper": record}, timeout=10) == []
    assert not procs.is_running(record)
    assert not procs.send(record, signal.SIGTERM)


def test_a_process_still_loading_its_program_is_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Popen returns once the exec has begun; until the kernel has loaded the program, its
    command line reads empty. Its start time still says it is the process we started."""
    record = procs.spawn(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        cwd=tmp_path,
        output=tmp_path / "out.log",
    )
    try:
        monkeypatch.setattr(psutil.Process, "cmdline", lambda self: [])
        assert procs.is_running(record)
        assert not procs.is_running(replace(record, started=record.started + 5))
    finally:
        monkeypatch.undo()
        procs.stop({"loading": record}, timeout=10)


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    ready = tmp_path / "ignoring-sigterm"
    code = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    record = procs.spawn(
        [sys.executable, "-c", code, str(ready)], cwd=tmp_path, output=tmp_path / "o"
    )
    deadline = time.monotonic() + 30  # until the handler is installed, not a fixed time
    while not ready.exists():
        assert time.monotonic() < deadline
        assert procs.is_running(record)
        time.sleep(0.05)
    assert procs.stop({"stubborn": record}, timeout=1) == ["stubborn"]
    assert not procs.is_running(record)


def test_parse_cluster_nodes_keeps_an_announced_hostname() -> None:
    line = (
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.0.0.7:6379@16379,redis-0.redis-headless "
        "myself,master - 0 0 1 connected 0-5460"
    )
    (entry,) = parse_cluster_nodes(line)
    assert (entry.ip, entry.port, entry.bus_port) == ("10.0.0.7", 6379, 16379)
    assert entry.hostname == "redis-0.redis-headless"
    (plain,) = parse_cluster_nodes(line.replace(",redis-0.redis-headless", ""))
    assert plain.hostname is None
