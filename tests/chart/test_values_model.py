"""The chart's values follow the pydantic models: schema, values.yaml and docs derive from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.chart.helm import CHART, VALUES_DIR
from typer.testing import CliRunner

from airlines.cli import app
from airlines.cli.values import Kind, generated_files, schema_text
from airlines.config import AppConfig, dump_config
from airlines.config.chart.documents import (
    secret_like_keys,
    values_document,
    values_with_defaults,
)
from airlines.config.chart.umbrella import ChartValues

pytestmark = pytest.mark.chart

runner = CliRunner()


def test_committed_schema_matches_the_models() -> None:
    committed = (CHART / "values.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(Kind.CHART), (
        "values.schema.json drifted from airlines.config.chart: run `airlines values generate`"
    )


@pytest.mark.parametrize("path", sorted(generated_files(CHART)), ids=lambda p: p.name)
def test_generated_files_are_current(path: Path) -> None:
    expected = generated_files(CHART)[path]
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path} is stale: run `airlines values generate`"
    )


def test_values_yaml_is_exactly_the_model_defaults() -> None:
    data = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert data == values_document()
    ChartValues.model_validate(data)


def test_generate_check_reports_nothing_stale() -> None:
    result = runner.invoke(app, ["values", "generate", "--check", "--chart-dir", str(CHART)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", sorted(VALUES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_environment_values_validate(path: Path) -> None:
    result = runner.invoke(app, ["values", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.output


def test_chart_schema_is_strict_inside_and_names_helm_keys_at_the_root() -> None:
    import json

    schema = json.loads(schema_text(Kind.CHART))
    assert schema["additionalProperties"] is False
    assert {"global", "spark-operator", "redis-cluster", "airlines-common"} <= set(
        schema["properties"]
    )
    # Open: global may carry other charts' globals, and the spark-operator sections take
    # that chart's own keys besides the ones the bundle sets. Everything else is strict.
    open_models = {"GlobalValues", "SparkOperatorValues", "OperatorController", "OperatorWebhook"}
    for name, definition in schema["$defs"].items():
        if "properties" in definition:
            expected = name in open_models
            assert definition.get("additionalProperties") is expected, name
    # Helm copies `global` into every subchart's values: each section accepts it.
    for key in ("zookeeper", "kafka", "redis-cluster", "rbac", "producers", "streaming"):
        ref = schema["properties"][key]["$ref"].rsplit("/", 1)[-1]
        assert "global" in schema["$defs"][ref]["properties"], key


def test_runtime_sections_are_the_config_models() -> None:
    """global.config is AppConfig's shape: the chart cannot drift from the job's config."""
    from airlines.config import models
    from airlines.config.chart.app_config import ChartAppConfig

    assert issubclass(ChartAppConfig, models.AppConfig)
    chart_fields = set(ChartAppConfig.model_fields)
    assert chart_fields == set(models.AppConfig.model_fields)
    for name in ("topics", "dead_letter", "producers"):
        assert ChartAppConfig.model_fields[name].annotation == (
            models.AppConfig.model_fields[name].annotation
        )


def test_app_config_of_defaults_is_a_valid_config(tmp_path: Path) -> None:
    config = ChartValues().app_config("rel", "airlines")
    assert config.kafka.bootstrap_servers[0] == (
        "rel-kafka-0.rel-kafka-headless.airlines.svc.cluster.local:9092"
    )
    assert len(config.redis.nodes) == 6
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(config))
    result = runner.invoke(app, ["values", "validate", "--kind", "config", str(path)])
    assert result.exit_code == 0, result.output


def test_config_kind_still_validates_plain_config_files(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(dump_config(AppConfig()))
    bad = tmp_path / "bad.yaml"
    bad.write_text("redis:\n  ttl: 1m\n")
    assert runner.invoke(app, ["values", "validate", "-k", "config", str(good)]).exit_code == 0
    result = runner.invoke(app, ["values", "validate", "--kind", "config", str(bad)])
    assert result.exit_code == 1
    assert "redis.ttl: must be longer than" in result.output
    config_schema = runner.invoke(app, ["values", "schema", "--kind", "config"])
    assert '"deadLetter"' in config_schema.output


def test_partial_overrides_merge_like_helm() -> None:
    merged = values_with_defaults({"kafka": {"image": {"tag": "3.9.2"}}, "producers": None})
    assert merged["kafka"]["image"] == {**values_document()["kafka"]["image"], "tag": "3.9.2"}
    assert "producers" not in merged
    values = ChartValues.model_validate(merged)
    assert values.kafka.image.repository == "apache/kafka"


def test_values_files_carry_no_secrets() -> None:
    for path in [CHART / "values.yaml", *sorted(VALUES_DIR.glob("*.yaml"))]:
        assert secret_like_keys(yaml.safe_load(path.read_text(encoding="utf-8"))) == [], path
    assert secret_like_keys({"global": {"x": {"redisPassword": "p"}}}) == ["global.x.redisPassword"]
