"""Port planning of the local stack."""

from __future__ import annotations

import random
import socket

import pytest

from airlines.stack.ports import (
    PortError,
    PortPlan,
    busy_ports,
    find_free_plan,
    plan_ports,
    port_in_use,
)


def test_defaults() -> None:
    plan = plan_ports()
    assert plan.zookeeper == 2181
    assert plan.kafka == [9092, 9093, 9094]
    assert plan.redis == [7000, 7001, 7002, 7003, 7004, 7005]
    assert plan.redis_bus == [17000, 17001, 17002, 17003, 17004, 17005]
    assert plan.bootstrap_servers[0] == "127.0.0.1:9092"


def test_port_base_lays_out_consecutive_ports() -> None:
    plan = plan_ports(base=15000)
    assert plan.zookeeper == 15000
    assert plan.kafka == [15001, 15002, 15003]
    assert plan.redis == list(range(15004, 15010))
    named = plan.named()
    assert named["kafka-2"] == 15003
    assert named["redis-15009 cluster bus"] == 25009
    assert len(named) == 16


def test_individual_ports() -> None:
    plan = plan_ports(zookeeper=3000, kafka=4000, redis=5000)
    assert (plan.zookeeper, plan.kafka[0], plan.redis[5]) == (3000, 4000, 5005)


def test_base_and_individual_ports_conflict() -> None:
    with pytest.raises(PortError, match="--port-base cannot be combined"):
        plan_ports(base=15000, kafka=9092)


def test_overlap_names_both_services() -> None:
    with pytest.raises(PortError, match=r"kafka-1: port 7001 is also used by zookeeper"):
        plan_ports(zookeeper=7001, kafka=7000, redis=8000)


def test_out_of_range_names_the_service() -> None:
    with pytest.raises(PortError, match=r"cluster bus: port 7\d+ is outside 1-65535"):
        plan_ports(base=65520)


def test_plan_round_trips_as_json() -> None:
    plan = plan_ports(base=16000)
    assert PortPlan.model_validate_json(plan.model_dump_json()) == plan


def test_busy_port_is_detected() -> None:
    plan = find_free_plan()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", plan.kafka[2]))
        listener.listen()
        assert port_in_use(plan.kafka[2])
        assert busy_ports(plan) == {"kafka-2": plan.kafka[2]}
    assert not port_in_use(plan.kafka[2])


def test_find_free_plan_is_free_and_in_range() -> None:
    plan = find_free_plan(rng=random.Random(7))
    assert 12_000 <= plan.zookeeper < 22_000
    assert max(plan.redis_bus) < 32_768
    assert not busy_ports(plan)


@pytest.mark.parametrize(
    ("base", "message"),
    [
        (70000, "--port-base 70000: zookeeper: port 70000 is outside 1-65535"),
        (60000, "--port-base 60000: redis-60004 cluster bus: port 70004 is outside 1-65535"),
    ],
)
def test_out_of_range_port_base_names_the_option_and_the_port(base: int, message: str) -> None:
    with pytest.raises(PortError) as caught:
        plan_ports(base=base)
    assert str(caught.value) == message
