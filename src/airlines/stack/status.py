"""What ``airlines stack status --json`` prints: the stack's endpoints and files.

Other commands and the test suite use it to find the services (through the config
file it names, which ``stack up`` generates).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ServiceStatus(BaseModel):
    name: str = Field(description="e.g. zookeeper, kafka-0, redis-7000")
    endpoint: str = Field(description="host:port it listens on")
    pid: int | None = Field(description="process id, null when not running")
    running: bool
    ready: bool = Field(False, description="answers as it should (ruok, registered, PING)")
    detail: str = Field("", description="why it is not ready, or what it reported")
    log: str = Field(description="path of its log file")


class StackStatus(BaseModel):
    up: bool = Field(description="every service is running and ready")
    state: Literal["up", "degraded", "down"] = Field(
        "down", description="up: all ready; degraded: some running; down: nothing running"
    )
    stack_dir: str
    config_path: str = Field(description="generated AppConfig YAML for the other commands")
    bootstrap_servers: list[str]
    zookeeper: str
    redis_nodes: list[str]
    redis_password_file: str = Field(
        description="git-ignored file holding the Redis admin user's password"
    )
    services: list[ServiceStatus]
    problems: list[str] = Field(
        default_factory=list, description="what keeps the stack from being up"
    )
