"""The local stack's Redis: TLS only, no default user, and each user only its own rights.

Real commands against the real cluster: the writer's and the reader's refusals come from
Redis itself (NOPERM), not from a client-side check.
"""

from __future__ import annotations

import ssl
import stat
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from airlines.stack.prereqs import find_redis_server, redis_supported, redis_version
from airlines.store.connect import RedisAccess, cluster_client, redis_password, tls_options
from airlines.store.node import NodeAuthError, NodeConnection
from airlines.store.users import ADMIN_ONLY, READER_USER, REPLICATION_USER, USER_NAMES, WRITER_USER
from airlines.store.writer import ClusterWriter, SinkSettings
from airlines_testkit.stack import FreshConfig, RunningStack

pytestmark = pytest.mark.integration

ROW = (
    "r1",
    "Delta",
    "DL402",
    1_714_564_800_000,
    1_714_565_100_000,
    3,
    400,
    250.0,
    12.0,
    1,
    1 / 3,
    1,
)


def _node(stack: RunningStack) -> tuple[str, int]:
    host, port = stack.config.redis.nodes[0].split(":")
    return host, int(port)


def _client(stack: RunningStack, user: str, **options: Any) -> redis.Redis:
    access = RedisAccess.of(stack.redis_user(user))
    host, port = _node(stack)
    return redis.Redis(host=host, port=port, **access.client_options(), **options)


def test_the_stack_runs_a_supported_redis() -> None:
    server = find_redis_server()
    assert server is not None
    version = redis_version(server)
    assert version is not None
    assert redis_supported(version), version


def test_the_writer_writes_what_the_sink_writes(fresh_config: FreshConfig) -> None:
    redis_ = fresh_config.config_as(WRITER_USER).redis
    assert redis_.username == WRITER_USER
    assert redis_.tls is not None
    settings = SinkSettings.from_config(redis_, redis_password(redis_))
    writer = ClusterWriter(settings)
    try:
        assert writer.write_windows([ROW], batch_id=1) == 1
    finally:
        writer.close()
    reader = cluster_client(fresh_config.config_as(READER_USER).redis)
    try:
        assert reader.smembers(f"{redis_.key_prefix}:routes")
    finally:
        reader.close()


@pytest.mark.parametrize(
    "command", [("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "*"), ("KEYS", "*")]
)
@pytest.mark.parametrize("user", [WRITER_USER, READER_USER, REPLICATION_USER])
def test_only_the_admin_may_flush_configure_or_list_keys(
    stack: RunningStack, user: str, command: tuple[str, ...]
) -> None:
    client = _client(stack, user)
    try:
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)
    finally:
        client.close()


def test_the_acl_denies_every_admin_only_command_to_the_others(stack: RunningStack) -> None:
    """ACL DRYRUN: what Redis's ACL says of each (DEBUG is also off on the nodes)."""
    admin = _client(stack, "admin", decode_responses=True)
    examples = {
        "flushall": [],
        "flushdb": [],
        "config": ["GET", "*"],
        "debug": ["SLEEP", "0"],
        "keys": ["*"],
    }
    assert set(examples) == set(ADMIN_ONLY)
    try:
        for command, args in examples.items():
            assert admin.execute_command("ACL", "DRYRUN", "admin", command, *args) == "OK"
            for user in (WRITER_USER, READER_USER, REPLICATION_USER):
                verdict = admin.execute_command("ACL", "DRYRUN", user, command, *args)
                assert "has no permissions" in verdict, (user, command, verdict)
    finally:
        admin.close()


def test_the_writer_cannot_read_or_write_elsewhere(
    stack: RunningStack, fresh_config: FreshConfig
) -> None:
    prefix = fresh_config.config.redis.key_prefix
    redis_ = fresh_config.config_as(WRITER_USER).redis
    writer = ClusterWriter(SinkSettings.from_config(redis_, redis_password(redis_)))
    try:
        with pytest.raises(Exception, match="NOPERM"):
            writer.write([("HSET", "elsewhere:key", "a", "1")])
        with pytest.raises(Exception, match="NOPERM"):
            writer.write([("DEL", f"{prefix}:job:heartbeat")])
    finally:
        writer.close()
    admin = _client(stack, "admin", decode_responses=True)
    try:
        for command in (("HGETALL", f"{prefix}:x"), ("SCAN", "0"), ("GET", f"{prefix}:x")):
            verdict = admin.execute_command("ACL", "DRYRUN", WRITER_USER, *command)
            assert "has no permissions" in verdict, (command, verdict)
    finally:
        admin.close()


def test_the_reader_cannot_write(fresh_config: FreshConfig) -> None:
    prefix = fresh_config.config.redis.key_prefix
    reader = cluster_client(fresh_config.config_as(READER_USER).redis)
    try:
        assert reader.hgetall(f"{prefix}:job:heartbeat") == {}
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.hset(f"{prefix}:job:heartbeat", "batch_id", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            reader.hgetall("elsewhere:key")
    finally:
        reader.close()
    # The raw sink's login as the reader works; its writes do not.
    redis_ = fresh_config.config_as(READER_USER).redis
    settings = SinkSettings.from_config(redis_, redis_password(redis_), retry_seconds=1)
    writer = ClusterWriter(settings)
    try:
        with pytest.raises(Exception, match="NOPERM"):
            writer.write_windows([ROW], batch_id=1)
    finally:
        writer.close()


def test_the_default_user_is_off(stack: RunningStack) -> None:
    host, port = _node(stack)
    anonymous = redis.Redis(host=host, port=port, **tls_options(stack.config.redis.tls))
    try:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    finally:
        anonymous.close()
    as_default = redis.Redis(
        host=host,
        port=port,
        username="default",
        password="anything",
        **tls_options(stack.config.redis.tls),
    )
    try:
        with pytest.raises(redis.AuthenticationError):
            as_default.ping()
    finally:
        as_default.close()
    admin = _client(stack, "admin", decode_responses=True)
    try:
        default = admin.execute_command("ACL", "GETUSER", "default")
        assert "off" in default["flags"]
        users = set(admin.execute_command("ACL", "USERS"))
        assert users == {"default", *USER_NAMES}
    finally:
        admin.close()


def test_redis_speaks_only_tls_checked_against_the_stacks_ca(stack: RunningStack) -> None:
    host, port = _node(stack)
    access = stack.redis_access
    assert access.tls is not None
    # plaintext to the TLS port: the connection does not survive
    plain = redis.Redis(host=host, port=port, username=access.username, password=access.password)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    plain.close()
    # TLS without the stack's CA (the system's CAs): the node's certificate is refused
    untrusted = redis.Redis(
        host=host,
        port=port,
        username=access.username,
        password=access.password,
        ssl=True,
        ssl_cert_reqs="required",
    )
    with pytest.raises(
        redis.ConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"
    ):
        untrusted.ping()
    untrusted.close()
    # the sink's own connection checks the certificate too
    with pytest.raises(NodeAuthError, match="certificate is refused"):
        NodeConnection(
            (host, port),
            username=access.username,
            password=access.password,
            timeout=5,
            tls=ssl.create_default_context(),
        )
    # the cluster's own view: replication and the bus are TLS too
    admin = _client(stack, "admin", decode_responses=True)
    try:
        config = admin.config_get("tls-*")
        assert config["tls-replication"] == "yes"
        assert config["tls-cluster"] == "yes"
        assert admin.config_get("port")["port"] == "0"
        assert admin.config_get("masteruser")["masteruser"] == REPLICATION_USER
        nodes = RedisCluster(host=host, port=port, **access.client_options(), decode_responses=True)
        try:
            assert nodes.cluster_info()["cluster_state"] == "ok"
        finally:
            nodes.close()
    finally:
        admin.close()


def test_the_passwords_are_private_files(stack: RunningStack) -> None:
    layout = stack.local.layout
    assert stat.S_IMODE(layout.redis_dir.stat().st_mode) == 0o700
    for user in USER_NAMES:
        path = layout.redis_password_file(user)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() not in layout.redis_acl.read_text()
    for path in (layout.redis_acl, layout.redis_server_key):
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    assert stack.config.redis.password_env is None
    assert stack.config.redis.password_file == str(layout.redis_password_file("admin"))
