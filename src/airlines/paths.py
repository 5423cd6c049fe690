"""Where setup puts things (``scripts/setup.sh``) and where programs find them."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$AIRLINES_CACHE``, else ``~/.cache/airlines-analytics`` (as in scripts/setup.sh)."""
    if os.environ.get("AIRLINES_CACHE"):
        return Path(os.environ["AIRLINES_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airlines-analytics"


def jars(bundle: str) -> list[Path]:
    """Jars of one resolved bundle (``kafka`` or ``spark-kafka``); empty if not resolved.

    In the job image they are baked into Spark's own ``jars/`` directory instead, so an
    empty list there is normal (``AIRLINES_JARS_DIR`` may point elsewhere).
    """
    root = Path(os.environ.get("AIRLINES_JARS_DIR", cache_dir() / "jars"))
    return sorted((root / bundle).glob("*.jar"))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (a password, a private key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
