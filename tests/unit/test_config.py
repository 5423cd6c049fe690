"""The configuration models: defaults, round trip, and errors that name the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airlines.config import AppConfig, ConfigError, dump_config, load_config
from airlines.config.types import format_duration, parse_duration, spark_interval
from airlines.contract.event import Region


def test_defaults_match_the_design() -> None:
    config = AppConfig()
    assert config.streaming.trigger == timedelta(seconds=30)
    assert config.streaming.watermark == timedelta(minutes=1)
    assert config.streaming.window == timedelta(minutes=5)
    assert [t.name for t in config.topics] == [
        "east-coast-flights",
        "west-coast-flights",
        "cross-country-flights",
    ]
    assert config.topic_for_region(Region.WEST_COAST).route_name == "west-coast"


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    config = AppConfig.model_validate(
        {"streaming": {"trigger": "10s", "slide": "1m"}, "redis": {"nodes": ["r0:7000", "r1:7001"]}}
    )
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("250ms", timedelta(milliseconds=250)),
        ("2d", timedelta(days=2)),
        (45, timedelta(seconds=45)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


def test_spark_interval() -> None:
    assert spark_interval(timedelta(minutes=5)) == "300 seconds"
    assert spark_interval(timedelta(milliseconds=1500)) == "1500 milliseconds"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"streaming": {"trigger": "30 sec"}}, "streaming.trigger: invalid duration '30 sec'"),
        ({"streaming": {"window": "0s"}}, "streaming.window: must be positive"),
        ({"streaming": {"slide": "10m"}}, "streaming.slide: must not be longer than window (5m)"),
        ({"streaming": {"shufflePartitions": 0}}, "streaming.shufflePartitions:"),
        (
            {"kafka": {"bootstrapServers": ["broker"]}},
            "kafka.bootstrapServers[0]: invalid endpoint",
        ),
        ({"kafka": {"bootstrapServers": []}}, "kafka.bootstrapServers:"),
        ({"redis": {"password": "hunter2"}}, "redis.password: unknown key"),
        ({"redis": {"ttl": "1m"}}, "redis.ttl: must be longer than"),
        ({"topics": [{"name": "x", "region": "north"}]}, "topics[0].region:"),
        ({"topics": [{"region": "east-coast"}]}, "topics[0].name: required key is missing"),
        (
            {
                "topics": [
                    {"name": "a", "region": "east-coast"},
                    {"name": "a", "region": "west-coast"},
                ]
            },
            "topics: topic names must be unique",
        ),
        ({"deadLetter": {"topic": "east-coast-flights"}}, "deadLetter.topic: must not also be"),
        ({"producers": {"rate": -1}}, "producers.rate:"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, data: dict[str, object], message: str) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("streaming:\n  trigger: soon\n  window: -5m\nkafka:\n  clientId: ''\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    paths = sorted(p.split(":")[0] for p in caught.value.problems)
    assert paths == ["kafka.clientId", "streaming.trigger", "streaming.window"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("streaming:\n  trigger: [30s\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems[0].startswith("line 3:") or "line 2" in caught.value.problems[0]
