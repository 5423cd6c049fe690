"""Reading configuration files, with every problem reported by its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from airlines.config.models import AppConfig

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` are ``"path: message"`` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def render(self) -> str:
        return "\n".join(f"{self.source}: {problem}" for problem in self.problems)


def format_errors(error: ValidationError) -> list[str]:
    """One line per problem, ``dotted.path[index]: message``, named as in the file."""
    lines = []
    for item in error.errors(include_url=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (not part of the configuration; check the spelling)"
        elif item["type"] == "missing":
            message = "required key is missing"
        lines.append(f"{path}: {message}" if path else message)
    return lines


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes a :class:`ConfigError` with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc
    return {} if data is None else data


def validate_data(model: type[M], data: Any, source: str) -> M:
    if not isinstance(data, dict):
        raise ConfigError(
            source, [f"expected a mapping at the top level, got {type(data).__name__}"]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_errors(exc)) from exc


def load_config(path: Path | str) -> AppConfig:
    """Load and validate an :class:`AppConfig` YAML (or JSON) file."""
    path = Path(path)
    return validate_data(AppConfig, read_yaml(path), str(path))


def dump_config(config: AppConfig) -> str:
    """YAML form of a config, camelCase keys, round-trips through :func:`load_config`."""
    return yaml.safe_dump(config.model_dump(mode="json", by_alias=True), sort_keys=False)
