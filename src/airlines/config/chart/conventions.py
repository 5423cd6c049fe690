"""Fixed facts of the chart every values model and template agrees on: where each pod
mounts its config, credentials and CAs, the services' ports, the name rules of Kafka
principals and Redis users."""

#: Where the config ConfigMap is mounted in every pod, and the flag that names it.
CONFIG_MOUNT_DIR = "/etc/airlines"
CONFIG_PATH = f"{CONFIG_MOUNT_DIR}/config.yaml"

#: Where every pod that talks to Kafka finds its own principal's user name and password
#: (its Secret) and the CA that signed the brokers' certificates: the config's
#: ``kafka.security`` names these files, each pod mounts its own.
KAFKA_CREDENTIALS_DIR = f"{CONFIG_MOUNT_DIR}/kafka"
KAFKA_USERNAME_FILE = f"{KAFKA_CREDENTIALS_DIR}/username"
KAFKA_PASSWORD_FILE = f"{KAFKA_CREDENTIALS_DIR}/password"
KAFKA_CA_DIR = f"{CONFIG_MOUNT_DIR}/kafka-ca"
KAFKA_CA_FILE = f"{KAFKA_CA_DIR}/ca.crt"
#: The only SASL mechanism of the chart's brokers (their users are SCRAM credentials).
KAFKA_MECHANISM = "SCRAM-SHA-512"

#: Fixed ports, shared by Services, StatefulSets, NetworkPolicies and the config.
KAFKA_PORT = 9092
#: The brokers' own listener (replication, the controller): brokers only.
KAFKA_BROKER_PORT = 9093
REDIS_PORT = 6379
ZOOKEEPER_PORT = 2181

#: Longest release-wide name prefix: leaves room for ``-redis-cluster-headless`` and
#: StatefulSet pod suffixes within Kubernetes' 63-character names.
PREFIX_MAX = 30

#: The system's Kafka principals (airlines.kafka.principals.principal_users).
PRINCIPAL_PATTERN = r"^(broker|admin|streaming|topics|smoke|producer-[a-z][-a-z]*)$"


#: The chart's Redis ACL users (``airlines.redis.users`` in the library chart).
REDIS_USERS = ("writer", "reader", "admin", "replication")
#: Where a client of the chart's Redis reads its password and the CA.
REDIS_PASSWORD_FILE = f"{CONFIG_MOUNT_DIR}/redis/password"
REDIS_CA_FILE = f"{CONFIG_MOUNT_DIR}/redis-ca/ca.crt"
