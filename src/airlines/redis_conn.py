"""Connecting to the Redis Cluster described by a :class:`RedisConfig`.

The password comes from the environment variable named in the config, else from
the file it names (a mounted Secret, or the local stack's git-ignored file); it is
never part of a config file and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from redis.cluster import ClusterNode, RedisCluster

from airlines.config import RedisConfig
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
        "password": redis_password(config),
        "username": config.username,
        "decode_responses": True,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }
    remap = address_remapper(config.address_remap)
    if remap is not None:
        options["address_remap"] = remap
    options.update(kwargs)
    return RedisCluster(**options)  # type: ignore[arg-type]
