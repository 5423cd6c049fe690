"""Where a stack keeps its files, all under one directory (``.stack`` by default).

::

    .gitignore        "*": nothing here is ever committed, wherever the directory is
    stack.json        the port plan the data belongs to
    airlines.yaml     generated AppConfig for the other commands
    redis/            0700: passwords/<user> (0600) of each Redis ACL user, users.acl (the
                      nodes' ACL file), server.crt and server.key (the nodes' TLS, signed
                      by the CA in kafka/)
    kafka/            0700: ca.crt, ca.key and broker.pem (key and chain) of the brokers'
                      TLS; users/<user>/password of each SCRAM user; zookeeper-password
    conf/             zoo.cfg, kafka-N.properties, log4j.properties, redis-P.conf (0600)
    data/             zookeeper/, kafka-N/, redis-P/
    logs/             <service>.log (the service's own log), <service>.out (stdout/stderr)
    run/              <service>.pid
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackLayout:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "stack.json"

    @property
    def config_file(self) -> Path:
        return self.root / "airlines.yaml"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    def redis_password_file(self, user: str) -> Path:
        return self.redis_dir / "passwords" / user

    @property
    def redis_acl(self) -> Path:
        return self.redis_dir / "users.acl"

    @property
    def redis_server_cert(self) -> Path:
        return self.redis_dir / "server.crt"

    @property
    def redis_server_key(self) -> Path:
        return self.redis_dir / "server.key"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def ca_cert(self) -> Path:
        return self.kafka_dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.kafka_dir / "ca.key"

    @property
    def broker_pem(self) -> Path:
        return self.kafka_dir / "broker.pem"

    def user_password_file(self, user: str) -> Path:
        return self.kafka_dir / "users" / user / "password"

    @property
    def zookeeper_password_file(self) -> Path:
        return self.kafka_dir / "zookeeper-password"

    @property
    def zookeeper_jaas(self) -> Path:
        return self.conf_dir / "zookeeper-jaas.conf"

    @property
    def kafka_jaas(self) -> Path:
        return self.conf_dir / "kafka-jaas.conf"

    @property
    def conf_dir(self) -> Path:
        return self.root / "conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log4j_file(self) -> Path:
        return self.conf_dir / "log4j.properties"

    def log(self, service: str) -> Path:
        return self.log_dir / f"{service}.log"

    def out(self, service: str) -> Path:
        return self.log_dir / f"{service}.out"

    def pid_file(self, service: str) -> Path:
        return self.run_dir / f"{service}.pid"

    def data(self, service: str) -> Path:
        return self.data_dir / service

    def purgeable(self) -> list[Path]:
        """Everything ``stack down --purge`` removes (never anything else in the directory)."""
        return [
            self.state_file,
            self.config_file,
            self.redis_dir,
            self.root / "redis-password",  # where older stacks kept the one password
            self.kafka_dir,
            self.conf_dir,
            self.data_dir,
            self.log_dir,
            self.run_dir,
            self.root / ".gitignore",
        ]
