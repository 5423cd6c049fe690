"""Connecting to the Redis Cluster described by a :class:`RedisConfig`.

The password comes from the environment variable named in the config, else from
the file it names (a mounted Secret, or the local stack's git-ignored file); it is
never part of a config file and never logged. With ``redis.tls`` every connection is
TLS, checked against the configured CA (and the node's name), with a client certificate
when one is configured.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.cluster import ClusterNode, RedisCluster

from airlines.config import RedisConfig, RedisTls
from airlines.config.types import split_endpoint


class RedisPasswordError(RuntimeError):
    """The config says a password is needed and none could be found."""


def redis_password(config: RedisConfig) -> str | None:
    if config.password_env and os.environ.get(config.password_env):
        return os.environ[config.password_env]
    if config.password_file:
        path = Path(config.password_file)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise RedisPasswordError(
                f"redis.passwordFile: cannot read {path}: {exc.strerror}"
            ) from exc
    if config.password_env:
        raise RedisPasswordError(
            f"redis.passwordEnv: environment variable {config.password_env} is not set "
            "(set it, or set redis.passwordFile, or passwordEnv: null for no password)"
        )
    return None


def tls_options(tls: RedisTls | None) -> dict[str, Any]:
    """redis-py's keyword arguments for ``tls`` (none for plaintext)."""
    if tls is None:
        return {}
    options: dict[str, Any] = {
        "ssl": True,
        "ssl_ca_certs": tls.ca_file,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": tls.check_hostname,
    }
    if tls.cert_file is not None:
        options["ssl_certfile"] = tls.cert_file
        options["ssl_keyfile"] = tls.key_file
    return options


def ssl_context(tls: RedisTls) -> ssl.SSLContext:
    """A client context for ``tls``: the CA checks the node's certificate and name."""
    context = ssl.create_default_context(cafile=tls.ca_file)
    context.check_hostname = tls.check_hostname
    if tls.cert_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@dataclass(frozen=True)
class RedisAccess:
    """Who a client logs in as and how it connects: user, password, TLS."""

    username: str | None = None
    password: str | None = None
    tls: RedisTls | None = None

    @classmethod
    def of(cls, config: RedisConfig) -> RedisAccess:
        """The access ``config`` describes (reads the password; RedisPasswordError)."""
        return cls(config.username, redis_password(config), config.tls)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of ``redis.Redis`` / ``RedisCluster`` for this access."""
        return {"username": self.username, "password": self.password, **tls_options(self.tls)}

    def __repr__(self) -> str:  # never print the password
        return f"RedisAccess(username={self.username!r}, tls={self.tls is not None})"


def address_remapper(
    remap: dict[str, str],
) -> Callable[[tuple[str, int]], tuple[str, int]] | None:
    """redis-py's ``address_remap``: a node's announced (host, port) -> where to connect.

    Redis Cluster nodes announce their own names (pod DNS names on Kubernetes); a reader
    outside the cluster reaches them through port-forwards instead.
    """
    if not remap:
        return None
    table = {split_endpoint(src): split_endpoint(dst) for src, dst in remap.items()}

    def remapped(address: tuple[str, int]) -> tuple[str, int]:
        return table.get((address[0], int(address[1])), address)

    return remapped


def cluster_client(config: RedisConfig, **kwargs: object) -> RedisCluster:
    """A ``RedisCluster`` client for the configured startup nodes."""
    nodes = [ClusterNode(*split_endpoint(endpoint)) for endpoint in config.nodes]
    options: dict[str, object] = {
        "startup_nodes": nodes,
        **RedisAccess.of(config).client_options(),
        "decode_responses": True,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }
    remap = address_remapper(config.address_remap)
    if remap is not None:
        options["address_remap"] = remap
    options.update(kwargs)
    return RedisCluster(**options)  # type: ignore[arg-type]
