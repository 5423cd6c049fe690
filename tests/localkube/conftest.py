"""Unit tests of the e2e harness (localkube/ at the repository root, which is not on
sys.path under plain `pytest`: the installed package is only src/)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
