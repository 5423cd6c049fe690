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
