"""What a producer does when librdkafka refuses a message in produce().

On a real cluster (the e2e tier, brokers rolling during ``helm upgrade``) a restarted
broker answered metadata without the topic ("partition count changed from 3 to 0") and
produce() raised ``_UNKNOWN_TOPIC``: two producers crashed without their delivery
summary, so the events they had sent could not be accounted for. librdkafka's refusal
is reproduced here by a stand-in for its Producer (produce/poll/flush/list_topics, with
real delivery callbacks); the real path is the e2e tier's pod-loss and upgrade tests.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka import KafkaError, KafkaException
from typer.testing import CliRunner

from airlines.cli import app
from airlines.config import AppConfig
from airlines.config.models import KafkaConfig
from airlines.contract.event import Region
from airlines.produce.publisher import EventPublisher, TopicUnavailableError
from airlines.produce.run import ProducingError, produce


class RefusingProducer:
    """librdkafka's Producer as the publisher uses it; produce() raises ``refusal`` while
    ``refusing`` is above zero (counting down), and messages are acknowledged on poll."""

    refusal = KafkaError._UNKNOWN_TOPIC
    refusing = 0
    metadata_requests: list[str | None]

    def __init__(self, settings: dict[str, Any]) -> None:
        self._on_delivery = settings["on_delivery"]
        self._queue: list[Any] = []
        self._offset = 0
        RefusingProducer.metadata_requests = []

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        if RefusingProducer.refusing:
            RefusingProducer.refusing -= 1
            raise KafkaException(KafkaError(self.refusal))
        self._queue.append((topic, self._offset))
        self._offset += 1

    def poll(self, timeout: float = 0) -> int:
        queued, self._queue = self._queue, []
        for topic, offset in queued:
            message = SimpleNamespace(
                topic=lambda t=topic: t,
                partition=lambda: 0,
                offset=lambda o=offset: o,
                latency=lambda: 0.001,
            )
            self._on_delivery(None, message)
        if not queued and timeout:
            time.sleep(min(timeout, 0.01))
        return len(queued)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> Any:
        RefusingProducer.metadata_requests.append(topic)
        return SimpleNamespace(topics={"east-coast-flights": SimpleNamespace(error=None)})


@pytest.fixture
def refusing(monkeypatch: pytest.MonkeyPatch) -> type[RefusingProducer]:
    monkeypatch.setattr(confluent_kafka, "Producer", RefusingProducer)
    monkeypatch.setattr(RefusingProducer, "refusal", KafkaError._UNKNOWN_TOPIC)
    monkeypatch.setattr(RefusingProducer, "refusing", 0)
    return RefusingProducer


def _kafka(delivery_timeout_ms: int = 120_000) -> KafkaConfig:
    return KafkaConfig.model_validate({"producer": {"delivery_timeout_ms": delivery_timeout_ms}})


def test_a_topic_missing_from_metadata_for_a_while_is_waited_out(
    refusing: type[RefusingProducer],
) -> None:
    publisher = EventPublisher(_kafka())
    refusing.refusing = 3
    publisher.send_many("t", [(b"k%d" % i, b"v") for i in range(5)])
    publisher.send_raw("t", b"k", b"v")
    publisher.flush(1)
    # Every message queued once, in order, and acknowledged: nothing lost or doubled.
    assert (publisher.stats.queued, publisher.stats.delivered) == (6, 6)
    assert publisher.stats.partitions[("t", 0)].count == 6
    assert publisher.stats.topic_gaps == 1
    # The client asked the brokers for the topic's metadata again while it waited.
    assert refusing.metadata_requests == ["t"] * 3


def test_a_topic_missing_past_the_delivery_timeout_fails_naming_it(
    refusing: type[RefusingProducer],
) -> None:
    publisher = EventPublisher(_kafka(delivery_timeout_ms=1000))
    refusing.refusing = 10**9
    started = time.monotonic()
    with pytest.raises(TopicUnavailableError, match=r"topic 't' missing .* for 1s"):
        publisher.send_many("t", [(b"k", b"v")])
    assert time.monotonic() - started >= 1.0
    assert publisher.stats.queued == 0


def test_other_refusals_are_not_retried(refusing: type[RefusingProducer]) -> None:
    publisher = EventPublisher(_kafka())
    refusing.refusal = KafkaError.MSG_SIZE_TOO_LARGE
    refusing.refusing = 1
    with pytest.raises(KafkaException):
        publisher.send_raw("t", b"k", b"v" * 10)
    assert refusing.metadata_requests == []


def _refuse_after(monkeypatch: pytest.MonkeyPatch, messages: int) -> None:
    """From the ``messages + 1``-th message on, produce() refuses every message."""
    real_produce = RefusingProducer.produce
    sent = [0]

    def produce_then_refuse(self: RefusingProducer, *args: Any) -> None:
        sent[0] += 1
        if sent[0] > messages:
            RefusingProducer.refusing = 10**9
        real_produce(self, *args)

    monkeypatch.setattr(RefusingProducer, "produce", produce_then_refuse)


def test_a_failed_run_still_reports_what_was_acknowledged(
    refusing: type[RefusingProducer], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = AppConfig.model_validate({"kafka": {"producer": {"delivery_timeout_ms": 1000}}})
    _refuse_after(monkeypatch, 1234)
    with pytest.raises(ProducingError) as failed:
        produce(config, Region.EAST_COAST, rate=None, count=10_000, seed=1, stop=threading.Event())
    stats = failed.value.stats
    assert stats.delivered == stats.queued == 1234
    assert stats.partitions[("east-coast-flights", 0)].count == 1234
    assert "'east-coast-flights' missing from the brokers' metadata" in str(failed.value)


def test_the_command_prints_its_summary_before_failing(
    refusing: type[RefusingProducer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The summary and the acknowledged offsets come first (the e2e checks read them from
    the log of a container that failed), then the error names the topic; exit 2."""
    config = tmp_path / "config.yaml"
    config.write_text("kafka:\n  producer:\n    delivery_timeout_ms: 1000\n")
    _refuse_after(monkeypatch, 700)
    result = CliRunner().invoke(
        app,
        [
            "produce",
            "-r",
            "east-coast",
            "--count",
            "5000",
            "--rate",
            "1e6",
            "--config",
            str(config),
        ],
    )
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    summary = next(i for i, x in enumerate(lines) if "700 delivered, 0 failed" in x)
    assert lines[summary + 1].startswith("acknowledged offsets: east-coast-flights/0 0-699 (700)")
    assert lines[summary + 2].startswith("the topic went missing from the brokers' metadata 1 ")
    assert "error: sending to 'east-coast-flights' stopped: topic 'east-coast-flights'" in (
        " ".join(lines[summary + 2 :])
    )
