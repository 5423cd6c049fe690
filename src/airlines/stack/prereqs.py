"""What the local stack needs installed, checked before anything starts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from airlines import paths

MIN_JAVA = 17
#: The oldest redis-server the stack runs: 7.4.6 (the 7.4 release without CVE-2025-21605
#: and CVE-2025-49844), or any 8.x from 8.0 on. ``make setup`` builds 8.0 into
#: :func:`redis_bin_dir`, where the stack looks first.
MIN_REDIS_7 = (7, 4, 6)
MIN_REDIS_8 = (8, 0, 0)
REDIS_REQUIREMENT = "Redis 7.4.6+ or 8.0+"
#: Jars that must be among the resolved ones (name prefixes).
REQUIRED_JARS = ("kafka_2.13-", "kafka-clients-", "zookeeper-", "reload4j-", "slf4j-reload4j-")


class PrerequisiteError(RuntimeError):
    """Something the stack needs is missing; the message says what to install."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Prerequisites:
    java: str
    kafka_jars: list[Path]
    redis_server: str

    @property
    def classpath(self) -> str:
        return os.pathsep.join(str(jar) for jar in self.kafka_jars)


def find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_major(java: str) -> int | None:
    try:
        result = subprocess.run(
            [java, "-XshowSettings:properties", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"java\.specification\.version = (\d+)(?:\.(\d+))?", result.stderr)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def redis_version(redis_server: str) -> tuple[int, int, int] | None:
    """``redis-server --version``'s ``v=X.Y.Z``, or None if it cannot be asked."""
    try:
        result = subprocess.run(
            [redis_server, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", result.stdout)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def redis_supported(version: tuple[int, int, int]) -> bool:
    return version >= MIN_REDIS_8 or MIN_REDIS_7 <= version < (8, 0, 0)


def redis_bin_dir() -> Path:
    """Where ``make setup`` (scripts/setup-redis.sh) installs redis-server and redis-cli."""
    return paths.cache_dir() / "redis" / "bin"


def find_redis_server() -> str | None:
    """The redis-server ``make setup`` built, else the first one on PATH."""
    built = redis_bin_dir() / "redis-server"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    return shutil.which("redis-server")


def check_prerequisites() -> Prerequisites:
    """Find java, the Kafka jars and redis-server; raise listing everything missing."""
    problems = []
    java = find_java()
    if java is None:
        problems.append(
            f"java was not found (Java {MIN_JAVA}+ runs ZooKeeper and Kafka): install it with "
            "'apt-get install openjdk-17-jre-headless', or set JAVA_HOME"
        )
    else:
        major = java_major(java)
        if major is None or major < MIN_JAVA:
            found = "an unknown version" if major is None else f"Java {major}"
            problems.append(
                f"{java} is {found}; Java {MIN_JAVA}+ is required: "
                "install it with 'apt-get install openjdk-17-jre-headless', or set JAVA_HOME"
            )
    jars = paths.jars("kafka")
    names = [jar.name for jar in jars]
    missing = [p.rstrip("-") for p in REQUIRED_JARS if not any(n.startswith(p) for n in names)]
    if missing:
        where = paths.cache_dir() / "jars" / "kafka"
        if os.environ.get("AIRLINES_JARS_DIR"):
            where = Path(os.environ["AIRLINES_JARS_DIR"]) / "kafka"
        what = "no jars" if not jars else f"missing {', '.join(missing)}"
        problems.append(
            f"the Kafka/ZooKeeper jars are not resolved ({what} in {where}): run 'make setup'"
        )
    redis_server = find_redis_server()
    if redis_server is None:
        problems.append(
            f"redis-server was not found ({REDIS_REQUIREMENT} runs the Redis Cluster): run "
            f"'make setup', which builds it into {redis_bin_dir()}"
        )
    else:
        version = redis_version(redis_server)
        if version is None or not redis_supported(version):
            found = (
                "an unknown version" if version is None else "Redis " + ".".join(map(str, version))
            )
            problems.append(
                f"{redis_server} is {found}; {REDIS_REQUIREMENT} is required (older releases "
                "have CVE-2025-21605 and CVE-2025-49844): run 'make setup', which builds it "
                f"into {redis_bin_dir()}"
            )
    if problems or java is None or redis_server is None:
        raise PrerequisiteError(problems)
    return Prerequisites(java=java, kafka_jars=jars, redis_server=redis_server)
