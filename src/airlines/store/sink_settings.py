"""What the Redis sink is told (settings), what it reports (stats) and how it fails."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from airlines.config import RedisConfig, RedisTls
from airlines.store.connect import ssl_context


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
    #: TLS to the nodes (``redis.tls``): the CA file, a client certificate and key (both
    #: or neither), whether the node's name is checked. No CA: plaintext.
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_check_hostname: bool = True

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
            tls_ca_file=config.tls.ca_file if config.tls else None,
            tls_cert_file=config.tls.cert_file if config.tls else None,
            tls_key_file=config.tls.key_file if config.tls else None,
            tls_check_hostname=config.tls.check_hostname if config.tls else True,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context these settings describe (None: plaintext)."""
        if self.tls_ca_file is None:
            return None

        return ssl_context(
            RedisTls(
                ca_file=self.tls_ca_file,
                cert_file=self.tls_cert_file,
                key_file=self.tls_key_file,
                check_hostname=self.tls_check_hostname,
            )
        )

    def __repr__(self) -> str:  # never print the password
        return (
            f"SinkSettings(nodes={self.nodes}, username={self.username!r}, "
            f"tls={self.tls_ca_file is not None}, key_prefix={self.key_prefix!r}, ...)"
        )


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
