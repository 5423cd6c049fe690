"""Where localkube keeps things: one definition, used by every part of the harness."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root (localkube/ sits directly under it).
REPO = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """Build caches shared with ``make setup`` (``$AIRLINES_CACHE``)."""
    explicit = os.environ.get("AIRLINES_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airlines-analytics"


def bin_dir() -> Path:
    """Binaries built by ``scripts/setup-cluster-tools.sh`` (kubelet, etcd, coredns, ...)."""
    return cache_dir() / "kube" / "bin"


def state_dir() -> Path:
    """The cluster's own files (configs, certificates, logs, data): git-ignored."""
    explicit = os.environ.get("LOCALKUBE_DIR")
    return Path(explicit) if explicit else REPO / ".e2e"


def images_cache_dir() -> Path:
    """buildah's storage and the exported image archives (kept between runs)."""
    return cache_dir() / "localkube" / "images"
