"""Fixtures for tests against real services: a fresh local stack per test session.

``stack`` (session scope) starts ZooKeeper, three Kafka brokers (ids 0-2) and a
six-node Redis Cluster (3 primaries + 3 replicas, TLS, ACL users) in a tmp dir on
a free block of ports, with the default topics created, and always stops every one
of its processes at the end (also after errors or a cancelled run). It yields a
:class:`~airlines_testkit.stack.RunningStack`:

* ``stack.config`` / ``stack.config_path``: the generated AppConfig and its YAML (Redis
  as the admin user); ``stack.redis_user("writer")`` / ``("reader")`` the job's and the
  readers' Redis client, ``stack.redis_access`` the admin's for single nodes;
* ``stack.env``: ``AIRLINES_CONFIG``, ``AIRLINES_STACK_DIR`` for subprocesses
  (``subprocess.run(..., env={**os.environ, **stack.env})``);
* ``stack.status``: endpoints, pids, log files (``airlines stack status --json``);
* ``stack.kill_broker(i, sig=SIGKILL)``, ``stack.start_broker(i)``,
  ``stack.wait_broker_ready(i)``, ``stack.kill_service(name)``,
  ``stack.start_service(name)`` for failure tests, and ``stack.ensure_healthy()`` to
  put everything back afterwards (call it in ``finally``);
* ``stack.flush_redis()``: FLUSHALL on every primary.

``fresh_config`` (function scope) gives a test its own topics (unique names, created
with the configured partitions/RF), its own Redis key prefix and a checkpoint dir in
``tmp_path``, as a :class:`~airlines_testkit.stack.FreshConfig` (``config``, ``path``,
``env``, and ``path_as("writer")`` / ``path_as("reader")``: the same config as the job's
and the readers' Redis users); the topics and keys are deleted afterwards.

Mark tests that use them ``@pytest.mark.integration``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers of these tests (tests/integration/*.py) are imported as tests.integration.x, as
# mypy names them; the repository root is not otherwise on sys.path under plain `pytest`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from airlines_testkit import stack as testing
from airlines_testkit.stack import FreshConfig, RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A running local stack for the whole session (see the module docstring)."""
    root = tmp_path_factory.mktemp("stack")
    testing.reap_orphaned_stacks(root.parent.parent)
    with testing.managed_stack(root) as running:
        yield running


@pytest.fixture
def fresh_config(stack: RunningStack, tmp_path: Path) -> Iterator[FreshConfig]:
    """Own topics, key prefix and checkpoint dir on the shared stack; cleaned up after."""
    yield from testing.fresh_config(stack, tmp_path)
