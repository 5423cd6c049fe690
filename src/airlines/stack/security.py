"""The local stack's Kafka and Redis security, the chart's in miniature: a private CA and
the brokers' certificate, a SCRAM password per principal, ZooKeeper's DIGEST-MD5 login;
the Redis nodes' certificate (same CA), a password per Redis ACL user and their ACL file.

Everything is generated once under ``<stack>/kafka`` (mode 0600 files in a 0700
directory) and kept across ``down``/``up``; ``down --purge`` removes it. The broker and
admin credentials are written into ZooKeeper before the brokers start (the brokers need
their own to talk to each other); the other principals and every ACL are applied through
the admin once the brokers are up (:func:`airlines.kafka.principals.apply_principals`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from pathlib import Path

from airlines.kafka.principals import ADMIN_USER, BROKER_USER, SCRAM_ITERATIONS
from airlines.paths import write_private
from airlines.stack import render
from airlines.stack.layout import StackLayout
from airlines.stack.ports import HOST
from airlines.store.users import REPLICATION_USER, USER_NAMES, render_acl
from airlines.tls import KeyPair, issue, new_ca

#: Seconds one run of Kafka's ConfigCommand may take (a JVM start and a ZooKeeper write).
CONFIG_COMMAND_TIMEOUT = 60.0


def _secret() -> str:
    return secrets.token_urlsafe(24)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def prepare(layout: StackLayout, users: list[str]) -> None:
    """Create what is missing: the CA, the brokers' certificate, each user's password,
    ZooKeeper's password, and the two JAAS files."""
    _private_dir(layout.kafka_dir)
    if not (layout.ca_cert.exists() and layout.ca_key.exists()):
        ca = new_ca("airlines-analytics local stack CA")
        write_private(layout.ca_key, ca.key)
        layout.ca_cert.write_text(ca.cert, encoding="utf-8")
        layout.broker_pem.unlink(missing_ok=True)
        layout.redis_server_cert.unlink(missing_ok=True)
    if not layout.broker_pem.exists():
        ca = KeyPair(layout.ca_cert.read_text(), layout.ca_key.read_text())
        broker = issue(ca, "kafka-broker", dns_names=["localhost"], ip_addresses=[HOST])
        write_private(layout.broker_pem, broker.key + broker.cert + ca.cert)
    for user in users:
        path = layout.user_password_file(user)
        if not path.exists():
            _private_dir(path.parent.parent)
            _private_dir(path.parent)
            write_private(path, _secret() + "\n")
    if not layout.zookeeper_password_file.exists():
        write_private(layout.zookeeper_password_file, _secret() + "\n")
    zk_password = read(layout.zookeeper_password_file)
    write_private(layout.zookeeper_jaas, render.zookeeper_jaas(zk_password))
    write_private(layout.kafka_jaas, render.zookeeper_client_jaas(zk_password))


def prepare_redis(layout: StackLayout, key_prefixes: list[str]) -> None:
    """Create what is missing of Redis's security: each ACL user's password, the nodes'
    certificate (signed by the stack's CA: :func:`prepare` first); write the ACL file
    for ``key_prefixes`` (the analytics keys the writer and the reader may use)."""
    _private_dir(layout.redis_dir)
    _private_dir(layout.redis_password_file(USER_NAMES[0]).parent)
    for user in USER_NAMES:
        path = layout.redis_password_file(user)
        if not path.exists():
            write_private(path, _secret() + "\n")
    if not (layout.redis_server_cert.exists() and layout.redis_server_key.exists()):
        ca = KeyPair(layout.ca_cert.read_text(), layout.ca_key.read_text())
        server = issue(ca, "redis", dns_names=["localhost"], ip_addresses=[HOST])
        write_private(layout.redis_server_key, server.key)
        layout.redis_server_cert.write_text(server.cert + ca.cert, encoding="utf-8")
    passwords = {user: read(layout.redis_password_file(user)) for user in USER_NAMES}
    write_private(layout.redis_acl, render_acl(passwords, key_prefixes))


def redis_server_security(layout: StackLayout, tls: bool) -> render.RedisServerSecurity:
    return render.RedisServerSecurity(
        aclfile=layout.redis_acl,
        replication_password=read(layout.redis_password_file(REPLICATION_USER)),
        tls=render.RedisServerTls(
            cert_file=layout.redis_server_cert,
            key_file=layout.redis_server_key,
            ca_file=layout.ca_cert,
        )
        if tls
        else None,
    )


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def broker_tls(layout: StackLayout) -> render.BrokerTls:
    return render.BrokerTls(
        keystore=layout.broker_pem,
        truststore=layout.ca_cert,
        broker_password=read(layout.user_password_file(BROKER_USER)),
    )


def jaas_option(path: Path) -> str:
    return f"-Djava.security.auth.login.config={path}"


def bootstrap_credentials(
    java: str, classpath: str, layout: StackLayout, zookeeper_connect: str
) -> None:
    """Write the broker's and the admin's SCRAM credentials into ZooKeeper (idempotent).

    Kafka's ConfigCommand takes them from a 0600 file, so no password is on a command line.
    Raises RuntimeError with the command's output if it fails.
    """
    for user in (BROKER_USER, ADMIN_USER):
        password = read(layout.user_password_file(user))
        with tempfile.TemporaryDirectory(dir=layout.run_dir) as scratch:
            credential = Path(scratch) / "credential.properties"
            write_private(
                credential,
                f"{render.SCRAM_MECHANISM}=iterations={SCRAM_ITERATIONS},password={password}\n",
            )
            command = [
                java, "-Xmx128m", jaas_option(layout.kafka_jaas),
                f"-Dlog4j.configuration=file:{layout.log4j_file}",
                f"-Dairlines.log.file={layout.log('kafka-credentials')}",
                "-cp", classpath, "kafka.admin.ConfigCommand",
                "--zookeeper", zookeeper_connect, "--alter",
                "--entity-type", "users", "--entity-name", user,
                "--add-config-file", str(credential),
            ]  # fmt: skip
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=CONFIG_COMMAND_TIMEOUT,
                check=False,
            )  # fmt: skip
            if result.returncode != 0:
                output = (result.stderr or result.stdout).strip().splitlines()[-15:]
                raise RuntimeError(
                    f"kafka: cannot write the SCRAM credential of {user!r} into ZooKeeper "
                    f"(exit {result.returncode}):\n" + "\n".join(output)
                )
