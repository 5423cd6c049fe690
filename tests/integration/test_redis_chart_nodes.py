"""The chart's Redis start script, run for real: six nodes on this machine from the
scripts ConfigMap ``helm template`` renders (its paths moved under ``tmp_path``, its
ports to free ones), formed into a cluster over TLS as the admin user.

Proves the server side of the chart's Redis security without a Kubernetes cluster: each
ACL user may do its part and nothing more, the default user is off, a client that does
not log in or does not speak TLS is refused, the replicas replicate over TLS as the
replication user, and a password the config file cannot hold stops the start.

Needs ``redis-server`` and ``redis-cli`` (the local stack's) and helm; starts nothing of
the shared stack.
"""

from __future__ import annotations

import functools
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from redis.crc import key_slot
from tests.chart.helm import CHART, template

from airlines.stack.prereqs import check_prerequisites
from airlines.tls import issue, new_ca

pytestmark = pytest.mark.integration

USERS = ("writer", "reader", "admin", "replication")
NODES = 6


def _free_ports(count: int) -> list[int]:
    """``count`` ports that are free on loopback, each with its bus port (+10000)."""
    found: list[int] = []
    candidate = 21000 + secrets.randbelow(20000)
    while len(found) < count:
        candidate += 1
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", candidate))
                b.bind(("127.0.0.1", candidate + 10000))
            except OSError:
                continue
        found.append(candidate)
    return found


@functools.cache
def _scripts() -> dict[str, str]:
    result = template(
        CHART,
        extra=["--show-only", "charts/redis-cluster/templates/scripts-configmap.yaml"],
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, str] = yaml.safe_load(result.stdout)["data"]
    return data


def _script(name: str, root: Path, port: int) -> str:
    """The chart's script, its absolute paths under ``root`` and its ports moved."""
    text = _scripts()[name]
    for path, where in (
        ("/run/redis", "run"),
        ("/etc/redis-credentials", "credentials"),
        ("/etc/redis-tls", "tls"),
        ("/data", "data"),
    ):
        text = text.replace(path, str(root / where))
    assert name != "start.sh" or "cluster-port 16379" in text
    text = text.replace("cluster-port 16379", f"cluster-port {port + 10000}")
    text = text.replace("tls-port 6379", f"tls-port {port}").replace("-p 6379", f"-p {port}")
    return text.replace("bind * -::*", "bind 127.0.0.1")


def _wait(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Node:
    def __init__(self, root: Path, port: int, credentials: Path, tls: Path) -> None:
        self.root, self.port = root, port
        for sub in ("run", "data"):
            (root / sub).mkdir(parents=True)
        (root / "credentials").symlink_to(credentials)
        (root / "tls").symlink_to(tls)
        (root / "start.sh").write_text(_script("start.sh", root, port))
        (root / "probe.sh").write_text(_script("probe.sh", root, port))
        self.log = root / "node.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, index: int) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["/bin/sh", str(self.root / "start.sh")],
                env={**os.environ, "HOSTNAME": f"node-{index}"},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Cluster:
    def __init__(self, root: Path) -> None:
        self.credentials = root / "credentials"
        for user in USERS:
            (self.credentials / user).mkdir(parents=True)
            (self.credentials / user / "password").write_text(secrets.token_urlsafe(24))
        self.tls = root / "tls"
        self.tls.mkdir()
        ca = new_ca("test Redis CA")
        pair = issue(ca, "node", dns_names=["localhost"])
        (self.tls / "ca.crt").write_text(ca.cert)
        (self.tls / "tls.crt").write_text(pair.cert + ca.cert)
        (self.tls / "tls.key").write_text(pair.key)
        self.nodes = [
            Node(root / f"node-{i}", port, self.credentials, self.tls)
            for i, port in enumerate(_free_ports(NODES))
        ]

    def password(self, user: str) -> str:
        return (self.credentials / user / "password").read_text()

    def client(self, port: int, user: str | None, *, tls: bool = True) -> redis.Redis:
        login: dict[str, Any] = {}
        if user is not None:
            login = {"username": user, "password": self.password(user)}
        if tls:
            login |= {"ssl": True, "ssl_ca_certs": str(self.tls / "ca.crt")}
        return redis.Redis(host="localhost", port=port, socket_timeout=10, **login)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_server = check_prerequisites().redis_server
    redis_cli = str(Path(redis_server).with_name("redis-cli"))
    cluster = Cluster(tmp_path_factory.mktemp("redis-chart"))
    bin_dir = str(Path(redis_server).parent)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    try:
        for index, node in enumerate(cluster.nodes):
            node.start(index)
        for node in cluster.nodes:
            _wait(f"node {node.port}", lambda n=node: cluster.client(n.port, "admin").ping())
        formed = subprocess.run(
            [
                redis_cli, "--no-auth-warning", "--user", "admin", "--tls", "--cacert",
                str(cluster.tls / "ca.crt"), "--cluster", "create",
                *[f"127.0.0.1:{n.port}" for n in cluster.nodes], "--cluster-replicas", "1",
                "--cluster-yes",
            ],
            env={**os.environ, "REDISCLI_AUTH": cluster.password("admin")},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert formed.returncode == 0, formed.stdout + formed.stderr
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()


def _primary_key(cluster: Cluster, port: int, prefix: str) -> str:
    """A key under ``prefix`` whose slot the node at ``port`` serves."""
    admin = cluster.client(port, "admin")
    ranges = [
        (int(start), int(end))
        for start, end, *rest in admin.execute_command("CLUSTER", "SLOTS")
        if int(rest[0][1]) == port
    ]
    assert ranges, f"node {port} serves no slots"
    for n in range(100_000):
        key = f"{prefix}probe-{n}"
        if any(start <= key_slot(key.encode()) <= end for start, end in ranges):
            return key
    raise AssertionError("no key found")


def test_the_cluster_forms_and_replicates_over_tls(cluster: Cluster) -> None:
    admin = cluster.client(cluster.nodes[0].port, "admin")
    _wait("cluster_state:ok", lambda: admin.cluster("info")["cluster_state"] == "ok")
    roles = [cluster.client(n.port, "admin").info("replication") for n in cluster.nodes]
    replicas = [r for r in roles if r["role"] == "slave"]
    assert len(replicas) == 3
    for node in cluster.nodes:
        client = cluster.client(node.port, "admin")
        _wait(
            "replication link up",
            lambda c=client: (
                c.info("replication")["role"] == "master"
                or c.info("replication")["master_link_status"] == "up"
            ),
        )
    # The node's own probe (admin over TLS, the password through redis-cli's environment).
    probe = subprocess.run(
        ["/bin/sh", str(cluster.nodes[0].root / "probe.sh")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stdout + probe.stderr


def _primary(cluster: Cluster) -> int:
    for node in cluster.nodes:
        if cluster.client(node.port, "admin").info("replication")["role"] == "master":
            return node.port
    raise AssertionError("no primary")


def test_each_user_may_do_only_its_part(cluster: Cluster) -> None:
    port = _primary(cluster)
    key = _primary_key(cluster, port, "aa:")
    outside = _primary_key(cluster, port, "other:")
    writer = cluster.client(port, "writer")
    reader = cluster.client(port, "reader")
    replication = cluster.client(port, "replication")
    # The writer: exactly what the sink sends, on the analytics keys.
    assert writer.hset(key, "f", "1") == 1
    assert writer.expire(key, 600)
    assert writer.execute_command("WAIT", 1, 5000) >= 0
    with pytest.raises(redis.exceptions.NoPermissionError):
        writer.hset(outside, "f", "1")
    # The reader: reads the analytics keys, nothing else.
    assert reader.hget(key, "f") == b"1"
    admin = cluster.client(port, "admin")
    for user, who in (("writer", writer), ("reader", reader), ("replication", replication)):
        for command in (
            ("FLUSHALL",),
            ("FLUSHDB",),
            ("CONFIG", "GET", "maxmemory"),
            ("KEYS", "*"),
            ("DEL", key),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                who.execute_command(*command)
        # DEBUG is off for every connection (enable-debug-command no); the users' ACL
        # denies it too, which ACL DRYRUN tells without running it.
        reply = admin.execute_command("ACL", "DRYRUN", user, "DEBUG", "OBJECT", key)
        assert b"no permissions to run the 'debug' command" in reply, (user, reply)
    assert admin.execute_command("ACL", "DRYRUN", "admin", "DEBUG", "OBJECT", key) == b"OK"
    with pytest.raises(redis.exceptions.NoPermissionError):
        writer.hgetall(key)
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.hset(key, "f", "2")
    with pytest.raises(redis.exceptions.NoPermissionError):
        replication.hget(key, "f")
    assert reader.hget(key, "f") == b"1"
    # The admin is the cluster's operator.
    assert cluster.client(port, "admin").config_get("maxmemory")["maxmemory"] == "209715200"


def test_no_default_user_and_no_anonymous_client(cluster: Cluster) -> None:
    port = cluster.nodes[0].port
    with pytest.raises(redis.exceptions.AuthenticationError):
        cluster.client(port, None).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        cluster.client(port, None).execute_command("AUTH", "default", "anything")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(
            host="localhost",
            port=port,
            username="writer",
            password="guessed",
            ssl=True,
            ssl_ca_certs=str(cluster.tls / "ca.crt"),
        ).ping()


def test_plaintext_is_refused_on_the_client_port_and_the_bus(cluster: Cluster) -> None:
    port = cluster.nodes[0].port
    for where in (port, port + 10000):
        with pytest.raises(redis.exceptions.ConnectionError):
            cluster.client(where, "admin", tls=False).ping()


def test_a_password_the_config_cannot_hold_stops_the_start(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    (cluster.credentials / "reader" / "password").write_text('has"quote')
    node = cluster.nodes[0]
    process = node.start(0)
    try:
        assert process.wait(timeout=30) != 0
    finally:
        node.stop()
    assert "redis user reader: the password in its Secret is empty or has a quote" in (
        node.log.read_text()
    )
    assert not (node.root / "run" / "redis.conf").read_text().count("has")
