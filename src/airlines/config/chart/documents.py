"""Documents derived from :class:`~airlines.config.chart.umbrella.ChartValues`: the
chart's ``values.yaml`` and ``values.schema.json``, and values files as Helm reads them
(merged over the defaults)."""

from __future__ import annotations

import io
import re
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import implicit_resolvers
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from airlines.config.chart.umbrella import ChartValues


def coalesce(defaults: Any, overrides: Any) -> Any:
    """Helm's merge of a values file over the chart's defaults.

    Mappings merge key by key, anything else (lists included) replaces, and ``null``
    removes a default key.
    """
    if not isinstance(defaults, dict) or not isinstance(overrides, dict):
        return overrides
    merged = dict(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def values_with_defaults(overrides: dict[str, Any]) -> dict[str, Any]:
    """A values file as Helm sees it: merged over the chart's defaults (values.yaml)."""
    merged: dict[str, Any] = coalesce(values_document(), overrides)
    return merged


def chart_values_schema() -> dict[str, Any]:
    """The chart's ``values.schema.json`` document."""
    schema = ChartValues.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from airlines.config.chart.umbrella.ChartValues by "
        "`airlines values schema`; do not edit.",
        **schema,
    }


def secret_like_keys(data: Any, path: str = "") -> list[str]:
    """Keys of a values document that look like they carry a secret value.

    ``password: ...``, ``redisPassword: ...``, ``token: ...`` and the like; names of Secrets,
    keys and environment variables (``existingSecret``, ``passwordEnv``...) are fine. The
    models reject unknown keys anyway; this covers the open parts (``global``,
    ``spark-operator``).
    """
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            name = str(key).lower()
            if name in {"secret", "token", "apikey", "api_key"} or name.endswith(
                ("password", "passwd")
            ):
                found.append(where)
            found.extend(secret_like_keys(value, where))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found.extend(secret_like_keys(item, f"{path}[{i}]"))
    return found


#: Keys Helm adds to values (copies of ``global``, the library chart); not chart parameters.
_HELM_ADDED = {"global_", "airlines_common"}


def _fields(model: type[BaseModel]) -> list[tuple[str, Any]]:
    """(key as written in values files, FieldInfo) of the parameters of a model."""
    out = []
    for name, info in model.model_fields.items():
        if name in _HELM_ADDED and model is not ChartValues:
            continue
        if name == "airlines_common":
            continue
        out.append((info.alias or name, info))
    return out


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def values_document(values: ChartValues | None = None) -> dict[str, Any]:
    """The values as a values file writes them (defaults when ``values`` is None)."""
    values = values or ChartValues()
    data: dict[str, Any] = values.model_dump(mode="json", by_alias=True)
    data.pop("airlines-common", None)
    for section in data.values():
        if (
            isinstance(section, dict)
            and section is not data["global"]
            and not section.get("global")
        ):
            section.pop("global", None)
    return data


# --- values.yaml, written by ruamel.yaml --------------------------------------------------

#: Strings written bare: word-like ones that no YAML reader takes for anything else.
_WORD = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")

#: YAML 1.1's and 1.2's implicit types other than strings (bools such as ``Yes``, ``ON``,
#: ``y``; null words and ``~``; octal, hex, sexagesimal and underscored ints; floats,
#: ``.inf``, ``.nan``; timestamps; ``=`` and ``<<``): Helm reads YAML 1.1, PyYAML too.
_NOT_STRINGS = [regexp for _, tag, regexp, _ in implicit_resolvers if not tag.endswith(":str")]


def _reads_as_a_string(text: str) -> bool:
    """Whether ``text`` written bare reads back as this same string in YAML 1.1 and 1.2."""
    return not any(regexp.match(text) for regexp in _NOT_STRINGS)


def _string(text: str) -> str:
    if _WORD.fullmatch(text) and _reads_as_a_string(text):
        return text
    quoted: str = DoubleQuotedScalarString(text)
    return quoted


def _yaml_data(value: Any) -> Any:
    """Plain data as ruamel.yaml nodes, each string quoted unless it reads back bare."""
    if isinstance(value, dict):
        return CommentedMap((_string(k), _yaml_data(v)) for k, v in value.items())
    if isinstance(value, list):
        return CommentedSeq(_yaml_data(item) for item in value)
    if isinstance(value, str):
        return _string(value)
    return value


def _described(model: type[BaseModel], data: dict[str, Any], indent: int) -> CommentedMap:
    """``data`` (a ``model`` section) with each key's description as a comment above it:
    ``# -- ...`` above a parameter (a row of the README's table, helm-docs' notation), a
    plain ``# ...`` above a section of parameters, which helm-docs then walks into."""
    out = CommentedMap()
    for key, info in _fields(model):
        if key not in data:
            continue
        value = data[key]
        nested = _nested_model(info.annotation)
        if nested is not None and isinstance(value, dict):
            out[_string(key)] = _described(nested, value, indent + 2)
            mark = ""
        else:
            out[_string(key)] = _yaml_data(value)
            mark = "-- "
        if info.description:
            gap = "\n" if indent == 0 else ""
            out.yaml_set_comment_before_after_key(
                key, before=f"{gap}{mark}{info.description}", indent=indent
            )
    return out


def _represent_null(representer: RoundTripRepresenter, _: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _dump(document: Any) -> str:
    """YAML as the project writes it: block style, two-space indents, lists indented under
    their key, lines never folded, null as ``null``."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 1 << 16
    yaml.representer.add_representer(type(None), _represent_null)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def yaml_text(data: Any) -> str:
    """Plain data (dicts, lists, scalars) as YAML, strings quoted as in values.yaml."""
    return _dump(_yaml_data(data))


VALUES_HEADER = """\
# Default values of the airlines-analytics chart bundle.
#
# GENERATED from the pydantic models in src/airlines/config/chart/ by
# `airlines values generate`; do not edit by hand (a test fails when it drifts).
# Per-environment overrides live in values/ at the repository root; check one with
# `airlines values validate values/minikube.yaml`.
"""


def render_values_yaml() -> str:
    """The umbrella chart's ``values.yaml``: every default, with its description."""
    return VALUES_HEADER + _dump(_described(ChartValues, values_document(), 0))
