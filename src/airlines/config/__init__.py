"""Configuration models (the single source of configuration truth) and their loading."""

from airlines.config.loader import ConfigError, dump_config, format_errors, load_config
from airlines.config.models import (
    AppConfig,
    DashboardConfig,
    DeadLetterConfig,
    KafkaConfig,
    KafkaSasl,
    KafkaSecurity,
    KafkaTls,
    ProducerClient,
    ProducerConfig,
    RedisConfig,
    RedisTls,
    StreamingConfig,
    TlsFiles,
    TopicConfig,
)

__all__ = [
    "AppConfig",
    "ConfigError",
    "DashboardConfig",
    "DeadLetterConfig",
    "KafkaConfig",
    "KafkaSasl",
    "KafkaSecurity",
    "KafkaTls",
    "ProducerClient",
    "ProducerConfig",
    "RedisConfig",
    "RedisTls",
    "StreamingConfig",
    "TlsFiles",
    "TopicConfig",
    "dump_config",
    "format_errors",
    "load_config",
]
