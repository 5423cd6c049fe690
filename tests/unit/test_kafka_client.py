"""``kafka.security`` of the configuration, and what each client library is given from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlines.config import AppConfig, ConfigError, KafkaConfig
from airlines.config.loader import validate_data
from airlines.kafka.principals import principal_users, principals
from airlines.kafka.settings import jaas_config, java_settings, librdkafka_settings


def _kafka(security: dict[str, object]) -> KafkaConfig:
    return KafkaConfig.model_validate({"bootstrapServers": ["b:9093"], "security": security})


def _secured(tmp_path: Path, password: str = "s3cret") -> KafkaConfig:
    (tmp_path / "password").write_text(password + "\n")
    return _kafka(
        {
            "protocol": "SASL_SSL",
            "sasl": {"username": "streaming", "passwordFile": str(tmp_path / "password")},
            "tls": {"caFile": "/ca.crt"},
        }
    )


@pytest.mark.parametrize(
    ("security", "problem"),
    [
        (
            {"protocol": "SASL_SSL", "tls": {"caFile": "/ca"}},
            "kafka.security: Value error, sasl: required",
        ),
        (
            {"protocol": "SASL_SSL", "sasl": {"username": "u"}, "tls": {"caFile": "/ca"}},
            "kafka.security.sasl: set exactly one of passwordFile and passwordEnv",
        ),
        (
            {"protocol": "SASL_PLAINTEXT", "sasl": {"passwordEnv": "P"}},
            "kafka.security.sasl: set exactly one of username and usernameFile",
        ),
        (
            {"protocol": "SASL_SSL", "sasl": {"username": "u", "passwordEnv": "P"}},
            "kafka.security: tls.caFile: required with protocol SASL_SSL",
        ),
        ({"protocol": "SSL", "tls": {}}, "kafka.security.tls.caFile: required key is missing"),
        (
            {"protocol": "SSL", "tls": {"caFile": "/ca", "certFile": "/c"}},
            "kafka.security.tls: certFile and keyFile: set both",
        ),
        (
            {"protocol": "PLAINTEXT", "sasl": {"username": "u", "passwordEnv": "P"}},
            "kafka.security: sasl: protocol PLAINTEXT does not use SASL",
        ),
        ({"protocol": "TLS"}, "kafka.security.protocol: Input should be"),
    ],
)
def test_bad_security_names_the_field(security: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_data(AppConfig, {"kafka": {"security": security}}, "airlines.yaml")
    assert any(line.replace("Value error, ", "").startswith(problem.replace("Value error, ", ""))
               for line in raised.value.problems), raised.value.problems  # fmt: skip


def test_librdkafka_gets_the_user_its_password_and_the_ca(tmp_path: Path) -> None:
    settings = librdkafka_settings(_secured(tmp_path))
    assert settings == {
        "bootstrap.servers": "b:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "streaming",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/ca.crt",
        "ssl.endpoint.identification.algorithm": "https",
    }


def test_the_java_client_gets_a_jaas_login_and_a_pem_truststore(tmp_path: Path) -> None:
    settings = java_settings(_secured(tmp_path, password='a"b\\c'))
    assert settings["sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="streaming" password="a\\"b\\\\c";'
    )
    assert settings["ssl.truststore.type"] == "PEM"
    assert settings["ssl.truststore.location"] == "/ca.crt"
    assert "ssl.keystore.type" not in settings


def test_mutual_tls_passes_the_client_certificate(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_text("CERT")
    (tmp_path / "k.pem").write_text("KEY")
    kafka = _kafka({"protocol": "SSL", "tls": {"caFile": "/ca", "certFile": str(tmp_path / "c.pem"),
                                               "keyFile": str(tmp_path / "k.pem")}})  # fmt: skip
    assert librdkafka_settings(kafka)["ssl.certificate.location"] == str(tmp_path / "c.pem")
    java = java_settings(kafka)
    assert (java["ssl.keystore.type"], java["ssl.keystore.key"]) == ("PEM", "KEY")
    assert java["ssl.keystore.certificate.chain"] == "CERT"


def test_a_missing_password_names_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sasl = {"usernameFile": str(tmp_path / "u"), "passwordEnv": "KAFKA_PW"}
    kafka = _kafka({"protocol": "SASL_PLAINTEXT", "sasl": sasl})
    assert kafka.security.sasl is not None
    with pytest.raises(ConfigError, match=r"kafka.security.sasl.usernameFile: cannot read"):
        librdkafka_settings(kafka)
    (tmp_path / "u").write_text("producer-east-coast\n")
    monkeypatch.delenv("KAFKA_PW", raising=False)
    with pytest.raises(ConfigError, match="passwordEnv: environment variable KAFKA_PW is unset"):
        librdkafka_settings(kafka)
    monkeypatch.setenv("KAFKA_PW", "pw")
    assert librdkafka_settings(kafka)["sasl.username"] == "producer-east-coast"
    assert jaas_config(kafka.security.sasl).endswith('password="pw";')


def test_plaintext_is_what_is_asked_for_only() -> None:
    assert librdkafka_settings(KafkaConfig()) == {
        "bootstrap.servers": "localhost:9092",
        "security.protocol": "PLAINTEXT",
    }


def test_every_principal_has_only_grants_on_the_systems_own_resources() -> None:
    config = AppConfig()
    users = principal_users(config)
    assert users[:2] == ["broker", "admin"]
    assert len(set(users)) == len(users)
    table = {p.user: p for p in principals(config)}
    east = {(g.kind, g.name, g.operation) for g in table["producer-east-coast"].grants}
    assert east == {("topic", "east-coast-flights", "WRITE"),
                    ("topic", "east-coast-flights", "DESCRIBE")}  # fmt: skip
    writers = {user for user, p in table.items() for g in p.grants
               if g.name == config.dead_letter.topic and g.operation == "WRITE"}  # fmt: skip
    assert writers == {"streaming"}
    creators = {user for user, p in table.items() for g in p.grants if g.operation == "CREATE"}
    assert creators == {"topics"}
    assert not [g for p in table.values() for g in p.grants if g.kind == "cluster"]
