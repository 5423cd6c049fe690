"""What the Redis sink is told (settings), what it reports (stats) and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field

from airlines.config import RedisConfig


class RedisWriteError(RuntimeError):
    """A batch could not be written to Redis within the retry budget."""


@dataclass(frozen=True)
class SinkSettings:
    """What an executor needs to write to Redis (picklable; shipped with each task)."""

    nodes: tuple[str, ...]
    username: str | None
    password: str | None
    key_prefix: str
    ttl_seconds: int
    top_n: int
    retry_seconds: float = 60.0
    socket_timeout: float = 10.0
    #: Replicas that must confirm each node's writes (WAIT); 0: do not wait.
    ack_replicas: int = 0
    ack_timeout_ms: int = 2000

    @classmethod
    def from_config(
        cls, config: RedisConfig, password: str | None, retry_seconds: float = 60.0
    ) -> SinkSettings:
        return cls(
            nodes=tuple(config.nodes),
            username=config.username,
            password=password,
            key_prefix=config.key_prefix,
            ttl_seconds=max(1, round(config.ttl.total_seconds())),
            top_n=config.top_n,
            retry_seconds=retry_seconds,
            ack_replicas=config.ack_replicas,
        )

    def __repr__(self) -> str:  # never print the password
        return f"SinkSettings(nodes={self.nodes}, key_prefix={self.key_prefix!r}, ...)"


@dataclass
class WriteStats:
    commands: int = 0
    round_trips: int = 0
    retries: int = 0
    redirects: int = 0
    #: Rounds of writes that fewer replicas than required confirmed (WAIT).
    unconfirmed: int = 0
    slot_map_refreshes: int = 0
    errors: list[str] = field(default_factory=list)
