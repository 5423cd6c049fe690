"""The sink before its rewrite, run from its own commit: the sink figures' baseline.

:data:`OLD_SINK_COMMIT`'s ``src`` is unpacked from this clone's history (``git archive``)
into a temporary directory, and its sink runs in a subprocess whose ``PYTHONPATH`` is
that ``src``: the old package is whole and imports nothing of today's. The subprocess
(:mod:`benchmarks.old_sink_worker`) gets the rows once and writes them as the old job's
partition writer did, once per :meth:`OldSink.write`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from airlines.contract.redis_layout import SINK_COLUMNS
from airlines.store.writer import SinkSettings

#: The commit whose sink is the baseline: the last before the sink encoded rows straight
#: to RESP. Its ``src/airlines/jobs/redis_sink.py`` packs every command with redis-py and
#: reads each reply on its own; its job writes 2,000 rows at a time, five commands a row.
OLD_SINK_COMMIT = "132c3b87a8d1a681375d9d672cc17e5ce6d76b7e"

#: The clone whose history holds :data:`OLD_SINK_COMMIT`.
REPOSITORY = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("old_sink_worker.py")

#: The old SinkSettings' fields (it knows neither TLS nor anything added later).
_OLD_SETTINGS = (
    "nodes",
    "username",
    "password",
    "key_prefix",
    "ttl_seconds",
    "top_n",
    "retry_seconds",
    "socket_timeout",
    "ack_replicas",
    "ack_timeout_ms",
)


class OldSinkUnavailableError(RuntimeError):
    """The old sink cannot be run: its commit is missing, or the Redis needs TLS."""


def _git(repository: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(repository), *args], capture_output=True, check=False)


def check_commit(repository: Path = REPOSITORY, commit: str = OLD_SINK_COMMIT) -> None:
    """Raise :class:`OldSinkUnavailableError` unless ``repository``'s history holds ``commit``."""
    if _git(repository, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0:
        return
    shallow = _git(repository, "rev-parse", "--is-shallow-repository").stdout.strip()
    why = (
        "the clone is shallow: run `git fetch --unshallow`"
        if shallow == b"true"
        else "fetch the repository's full history"
    )
    raise OldSinkUnavailableError(
        f"the sink's baseline runs the sink of commit {commit}, which {repository} "
        f"does not have ({why})"
    )


def extract_src(into: Path, repository: Path = REPOSITORY, commit: str = OLD_SINK_COMMIT) -> Path:
    """Unpack ``commit``'s ``src`` into ``into``; returns that ``src`` directory."""
    check_commit(repository, commit)
    archive = _git(repository, "archive", "--format=tar", commit, "src")
    if archive.returncode != 0:
        raise OldSinkUnavailableError(
            f"git archive {commit} src: {archive.stderr.decode().strip()}"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def old_settings(settings: SinkSettings) -> dict[str, Any]:
    """``settings`` as the old sink's SinkSettings fields (plaintext Redis only)."""
    if settings.tls_ca_file is not None:
        raise OldSinkUnavailableError("the old sink has no TLS: run it against plaintext Redis")
    return {name: getattr(settings, name) for name in _OLD_SETTINGS}


@dataclass(frozen=True)
class Written:
    """One pass of the old sink over the rows, as its process measured it."""

    seconds: float
    client_cpu: float  # the old sink process's CPU seconds
    commands: int
    rows: int


class OldSink:
    """The old sink in a process of its own, holding the rows; :meth:`write` writes them."""

    def __init__(
        self, old_src: Path, settings: SinkSettings, rows: Sequence[Sequence[Any]]
    ) -> None:
        # Only the old src on the path: today's package (installed in the venv) comes after it.
        env = {**os.environ, "PYTHONPATH": str(old_src)}
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(WORKER), str(old_src)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        job = {"settings": old_settings(settings), "columns": SINK_COLUMNS, "rows": rows}
        self._send(json.dumps(job))

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def _send(self, line: str) -> None:
        stdin, _ = self._pipes()
        try:
            stdin.write(line + "\n")
            stdin.flush()
        except BrokenPipeError:
            self._failed()

    def _failed(self) -> None:
        code = self._process.wait(timeout=30)
        raise RuntimeError(f"the old sink's process exited with code {code} (see its stderr)")

    def write(self) -> Written:
        """Write every row once; what it took, measured inside the old sink's process."""
        self._send("write")
        _, stdout = self._pipes()
        reply = stdout.readline()
        if not reply:
            self._failed()
        data = json.loads(reply)
        return Written(
            float(data["seconds"]),
            float(data["client_cpu"]),
            int(data["commands"]),
            int(data["rows"]),
        )

    def close(self) -> None:
        stdin, stdout = self._pipes()
        with contextlib.suppress(BrokenPipeError):
            stdin.close()  # the worker's cue to close its connections and exit
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        stdout.close()

    def __enter__(self) -> OldSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
