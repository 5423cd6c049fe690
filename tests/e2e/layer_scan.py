"""Searching image layers, byte by byte, for what must never be in an image.

Three kinds of content are looked for in one pass over every file of every layer: byte
strings (a host-added certificate's PEM lines or DER), whole files (the host's CA bundle or
truststore, by size and sha256), and test support by its paths (the test kit and the
project's ``tests/`` tree, wherever they were copied). Layers are read as tar streams:
from a docker-archive (what the node's containerd imports) or as OCI blobs.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
#: The test kit's package, its distribution's metadata or an editable install's hook.
_TEST_KIT = re.compile(r"airlines(_analytics)?_testkit")
#: Where a path may start a ``tests/`` tree.
_TESTS_TREE = re.compile(r"(?:^|/)(tests/)")


#: Names any project's tests directory may hold: no sign of this project's.
_GENERIC_NAMES = {"__init__.py", "conftest.py"}


def project_test_files(root: Path = ROOT) -> frozenset[str]:
    """The files of the repository's ``tests/`` tree a directory below it holds, as paths
    from the root (``tests/unit/test_contract.py``): found at the end of a layer's path,
    the tree was copied. Third-party packages ship ``tests`` directories of their own;
    a subdirectory and a file name of this project's together are not in them."""
    return frozenset(
        relative.as_posix()
        for path in (root / "tests").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.name not in _GENERIC_NAMES
        and len((relative := path.relative_to(root)).parts) >= 3
    )


@dataclass(frozen=True)
class Forbidden:
    """What no layer may hold."""

    #: Byte strings no file, config or manifest may contain, each with what it is.
    needles: dict[bytes, str] = field(default_factory=dict)
    #: Whole files: size -> sha256 digests of the files of that size.
    files: dict[int, set[str]] = field(default_factory=dict)
    #: The project's tests/ tree (:func:`project_test_files`).
    test_files: frozenset[str] = frozenset()


def why_test_support(name: str, test_files: frozenset[str]) -> str | None:
    """Why the layer path ``name`` is test support (None when it is not)."""
    path = name.removeprefix("./").lstrip("/")
    if _TEST_KIT.search(path):
        return "the test kit"
    for match in _TESTS_TREE.finditer(path):
        if path[match.start(1) :] in test_files:
            return "the project's tests/ tree"
    return None


def chunks(stream: IO[bytes], overlap: int) -> Iterator[tuple[bytes, bytes]]:
    """(chunk, chunk with the previous chunk's last ``overlap`` bytes in front)."""
    tail = b""
    while chunk := stream.read(1 << 20):
        yield chunk, tail + chunk
        tail = (tail + chunk)[-overlap:]


def scan_data(label: str, data: bytes, forbidden: Forbidden) -> list[str]:
    """A config, manifest or index: the needles anywhere in it."""
    return [f"{label}: {what}" for needle, what in forbidden.needles.items() if needle in data]


def scan_layer(label: str, stream: IO[bytes], forbidden: Forbidden) -> list[str]:
    """What of the forbidden content one layer tar holds: needles anywhere in its files,
    whole forbidden files, files under /run/secrets, test support (by path, files and
    directories alike)."""
    found: list[str] = []
    overlap = max(map(len, forbidden.needles), default=1)
    with tarfile.open(fileobj=stream, mode="r|*") as layer:
        for member in layer:
            why = why_test_support(member.name, forbidden.test_files)
            if why is not None:
                found.append(f"{label}: {member.name} ({why})")
            if not member.isfile():
                continue
            if member.name.lstrip("./").startswith("run/secrets/"):
                found.append(f"{label}: {member.name} (a secret left behind)")
            content = layer.extractfile(member)
            assert content is not None
            digest = hashlib.sha256() if member.size in forbidden.files else None
            for chunk, window in chunks(content, overlap):
                found += [
                    f"{label}: {member.name}: {what}"
                    for n, what in forbidden.needles.items()
                    if n in window
                ]
                if digest is not None:
                    digest.update(chunk)
            if digest is not None and digest.hexdigest() in forbidden.files[member.size]:
                found.append(f"{label}: {member.name} is the host's CA bundle or truststore")
    return found


def scan_archive(archive: Path, forbidden: Forbidden, seen: set[str]) -> list[str]:
    """A docker-archive: each layer not ``seen`` in an archive before (layers are named by
    their digest; the scanned ones are added) and every JSON file."""
    found: list[str] = []
    with tarfile.open(archive, mode="r|") as outer:
        for member in outer:
            if not member.isfile():  # the per-layer symlinks to the layer tars
                continue
            content = outer.extractfile(member)
            assert content is not None
            label = f"{archive.name}:{member.name}"
            if member.name.endswith(".tar"):
                if member.name not in seen:
                    seen.add(member.name)
                    found += scan_layer(label, content, forbidden)
            else:
                found += scan_data(label, content.read(), forbidden)
    return found


def scan_oci_blob(blob: Path, forbidden: Forbidden) -> list[str]:
    """One blob of an OCI layout: a config, manifest or index, else a layer."""
    with blob.open("rb") as handle:
        if handle.read(1) == b"{":
            return scan_data(blob.name, blob.read_bytes(), forbidden)
        handle.seek(0)
        return scan_layer(blob.name, handle, forbidden)
