"""Kafka client settings from ``kafka`` of the configuration, for both client libraries.

Every program that talks to Kafka takes its settings from here: the producers, the
topics and smoke commands, ``replay`` and the bench tools through librdkafka
(confluent-kafka), the streaming job's Kafka source and dead-letter gate through the Java
client. So ``kafka.security`` reaches every one of them. The password is read here, from
its file or environment variable, when a client is made; it is never logged, and the
Java client is given it inside ``sasl.jaas.config``, a setting it never prints.
"""

from __future__ import annotations

import os
from pathlib import Path

from airlines.config import ConfigError, KafkaConfig
from airlines.config.models import KafkaSasl

#: The JAAS login module of each SASL mechanism (Java client).
LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def _read_file(path: str, field: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError("config", [f"{field}: cannot read {path}: {exc.strerror}"]) from exc
    if not text:
        raise ConfigError("config", [f"{field}: {path} is empty"])
    return text


def sasl_username(sasl: KafkaSasl) -> str:
    """The SASL user name, from the configuration or its file."""
    if sasl.username is not None:
        return sasl.username
    assert sasl.username_file is not None  # the model requires one of the two
    return _read_file(sasl.username_file, "kafka.security.sasl.usernameFile")


def sasl_password(sasl: KafkaSasl) -> str:
    """The SASL password, from its file or environment variable."""
    if sasl.password_file is not None:
        return _read_file(sasl.password_file, "kafka.security.sasl.passwordFile")
    assert sasl.password_env is not None  # the model requires one of the two
    value = os.environ.get(sasl.password_env, "")
    if not value:
        raise ConfigError(
            "config",
            [
                f"kafka.security.sasl.passwordEnv: environment variable {sasl.password_env} is "
                "unset or empty"
            ],
        )
    return value


def _base_settings(kafka: KafkaConfig) -> dict[str, str]:
    """What both client libraries name alike: the servers, the protocol, the mechanism,
    and that the broker's certificate must name the host the client connected to."""
    security = kafka.security
    settings = {
        "bootstrap.servers": ",".join(kafka.bootstrap_servers),
        "security.protocol": security.protocol,
    }
    if security.sasl is not None:
        settings["sasl.mechanism"] = security.sasl.mechanism
    if security.tls is not None:
        settings["ssl.endpoint.identification.algorithm"] = "https"
    return settings


def librdkafka_settings(kafka: KafkaConfig) -> dict[str, str]:
    """``bootstrap.servers`` and the security settings, as librdkafka names them."""
    security = kafka.security
    settings = _base_settings(kafka)
    if security.sasl is not None:
        settings["sasl.username"] = sasl_username(security.sasl)
        settings["sasl.password"] = sasl_password(security.sasl)
    if security.tls is not None:
        settings["ssl.ca.location"] = security.tls.ca_file
        if security.tls.cert_file is not None and security.tls.key_file is not None:
            settings["ssl.certificate.location"] = security.tls.cert_file
            settings["ssl.key.location"] = security.tls.key_file
    return settings


def jaas_quote(value: str) -> str:
    """A JAAS option value: double-quoted, backslashes and quotes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def jaas_login(mechanism: str, username: str, password: str) -> str:
    """A ``sasl.jaas.config`` value: this user's login with this mechanism."""
    return (
        f"{LOGIN_MODULES[mechanism]} required "
        f"username={jaas_quote(username)} password={jaas_quote(password)};"
    )


def jaas_config(sasl: KafkaSasl) -> str:
    """``sasl.jaas.config`` of the Java client for this user."""
    return jaas_login(sasl.mechanism, sasl_username(sasl), sasl_password(sasl))


def java_settings(kafka: KafkaConfig) -> dict[str, str]:
    """``bootstrap.servers`` and the security settings, as the Java client names them.

    TLS material is read by the client itself from the PEM files (``PEM`` store types), so
    no keystore has to be made; a client key is passed inline, as the PEM store takes it.
    """
    security = kafka.security
    settings = _base_settings(kafka)
    if security.sasl is not None:
        settings["sasl.jaas.config"] = jaas_config(security.sasl)
    if security.tls is not None:
        settings["ssl.truststore.type"] = "PEM"
        settings["ssl.truststore.location"] = security.tls.ca_file
        if security.tls.cert_file is not None and security.tls.key_file is not None:
            settings["ssl.keystore.type"] = "PEM"
            settings["ssl.keystore.certificate.chain"] = _read_file(
                security.tls.cert_file, "kafka.security.tls.certFile"
            )
            settings["ssl.keystore.key"] = _read_file(
                security.tls.key_file, "kafka.security.tls.keyFile"
            )
    return settings
