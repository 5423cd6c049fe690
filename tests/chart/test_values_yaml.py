"""values.yaml's writer quotes every string a YAML reader would take for something else:
written by it, each comes back as the same string from PyYAML (YAML 1.1) and from Helm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.chart.helm import run, tool

from airlines.config.chart.documents import yaml_text

pytestmark = pytest.mark.chart

_BOOL_WORDS = ["y", "yes", "true", "on", "n", "no", "false", "off"]

#: Strings YAML 1.1 or 1.2 resolvers (or Go's YAML reader in Helm) would misread bare.
TRICKY = [
    *dict.fromkeys(f for word in _BOOL_WORDS for f in (word, word.upper(), word.capitalize())),
    *["null", "Null", "NULL", "~", ""],
    *["0o17", "017", "0x1F", "0X1f", "0b101", "1_000", "1:20", "190:20:30", "-42", "+7"],
    *["08", "09", "0"],
    *["1e3", "1E3", "1.5", "1.", ".5", "6.8523015e+5", "685_230.15", "190:20:30.15"],
    *[".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", ".NAN"],
    *["2026-01-01", "2026-1-1", "2026-01-01T10:00:00Z", "2001-12-14 21:59:43.10 -5"],
    *["=", "<<", "!", "&", "*", "- a", "a: b", "#x", "x #y", "@x", "`x", "%x", "|", ">"],
    *["[a]", "{a}", "'", '"', "\\", " lead", "trail ", "two\nlines", "tab\t", "é"],
]

#: Plain words, written bare.
WORDS = ["kube-system", "/etc/airlines/config.yaml", "SASL_SSL", "a.b/c", "onion", "nullable"]


def test_tricky_strings_are_quoted_and_words_bare() -> None:
    text = yaml_text({"strings": TRICKY, "words": WORDS})
    assert [s for s in TRICKY if f"- {s}\n" in text] == []
    assert [w for w in WORDS if f"- {w}\n" in text] == WORDS


def test_pyyaml_reads_back_every_string() -> None:
    document = {"strings": TRICKY, "keys": {s: i for i, s in enumerate(TRICKY)}}
    assert yaml.safe_load(yaml_text(document)) == document


def test_helm_reads_back_every_string(tmp_path: Path) -> None:
    chart = tmp_path / "strings"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: strings\nversion: 0.1.0\n")
    document = {"strings": TRICKY, "keys": {s: i for i, s in enumerate(TRICKY)}}
    (chart / "values.yaml").write_text(yaml_text(document), encoding="utf-8")
    (chart / "templates" / "out.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: out\ndata:\n"
        '  values.json: {{ dict "strings" .Values.strings "keys" .Values.keys | toJson | quote }}\n'
    )
    result = run([tool("helm"), "template", "t", str(chart)])
    assert result.returncode == 0, result.stderr
    (configmap,) = result.documents
    assert json.loads(configmap["data"]["values.json"]) == document
