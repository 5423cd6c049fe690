"""redis.addressRemap: readers outside the cluster reach the nodes' announced names
through other addresses (e.g. kubectl port-forwards)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airlines.config import RedisConfig
from airlines.store.connect import address_remapper


def test_announced_addresses_are_sent_where_the_map_says() -> None:
    remap = address_remapper(
        {"redis-0.redis-headless.ns.svc.cluster.local:6379": "127.0.0.1:16379"}
    )
    assert remap is not None
    assert remap(("redis-0.redis-headless.ns.svc.cluster.local", 6379)) == ("127.0.0.1", 16379)
    # Unmapped addresses (another port, another host) are left as they are.
    assert remap(("redis-0.redis-headless.ns.svc.cluster.local", 6380)) == (
        "redis-0.redis-headless.ns.svc.cluster.local",
        6380,
    )
    assert remap(("10.0.0.5", 6379)) == ("10.0.0.5", 6379)


def test_no_map_means_no_remapping() -> None:
    assert address_remapper({}) is None


def test_the_map_is_validated_as_endpoints() -> None:
    config = RedisConfig.model_validate({"addressRemap": {"a:6379": "127.0.0.1:1"}})
    assert config.address_remap == {"a:6379": "127.0.0.1:1"}
    with pytest.raises(ValidationError, match="host:port"):
        RedisConfig.model_validate({"addressRemap": {"a:6379": "no-port"}})
