"""Who may do what on the system's Kafka: one SCRAM principal per component, with ACLs.

The one table of the system's principals and their grants, used by the chart's topics
hook and by the local stack alike (``airlines kafka principals apply``). Brokers run
with an authorizer and ``allow.everyone.if.no.acl.found=false``: what is not granted
here is denied. Only the brokers' own principal and the admin are super users.

=================  =========================================================
principal          may
=================  =========================================================
producer-REGION    write its region's topic (idempotently), nothing else
streaming          read the input topics with its consumer groups, write the
                   dead-letter topic
topics             create the system's topics and alter their configuration
smoke              write the input topics and read its markers back, describe
                   the dead-letter topic
=================  =========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from confluent_kafka import KafkaException
from confluent_kafka.admin._acl import AclBinding, AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from airlines.config import AppConfig

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient

#: The brokers' own principal (inter-broker listener) and the admin's: the super users.
BROKER_USER = "broker"
ADMIN_USER = "admin"
#: SCRAM iterations of the credentials this module sets (Kafka's minimum is 4096).
SCRAM_ITERATIONS = 8192
#: Consumer groups of the streaming job's Kafka source (Spark's ``groupIdPrefix``).
STREAMING_GROUP_PREFIX = "airlines-streaming"
#: Consumer groups of ``airlines smoke`` (it reads its markers back).
SMOKE_GROUP_PREFIX = "airlines-smoke-"

ResourceKind = Literal["topic", "group", "cluster"]
Operation = Literal[
    "READ", "WRITE", "DESCRIBE", "CREATE", "ALTER", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"
]


@dataclass(frozen=True)
class Grant:
    """One allowed operation on one resource (a name, or every name with a prefix)."""

    kind: ResourceKind
    name: str
    operation: Operation
    prefixed: bool = False


@dataclass(frozen=True)
class Principal:
    user: str
    grants: tuple[Grant, ...]

    @property
    def name(self) -> str:
        return f"User:{self.user}"


def producer_user(region: str) -> str:
    return f"producer-{region}"


def _on(kind: ResourceKind, names: Sequence[str], *ops: Operation) -> list[Grant]:
    return [Grant(kind, name, op) for name in names for op in ops]


def principals(config: AppConfig) -> list[Principal]:
    """The system's principals (without the super users) and what each may do."""
    inputs = [t.name for t in config.topics]
    dead_letter = config.dead_letter.topic
    found = [
        Principal(producer_user(t.region.value), tuple(_on("topic", [t.name], "WRITE", "DESCRIBE")))
        for t in config.topics
    ]
    found.append(
        Principal(
            "streaming",
            (
                *_on("topic", inputs, "READ", "DESCRIBE"),
                *_on("topic", [dead_letter], "WRITE", "DESCRIBE"),
                Grant("group", STREAMING_GROUP_PREFIX, "READ", prefixed=True),
            ),
        )
    )
    found.append(
        Principal(
            "topics",
            tuple(
                _on(
                    "topic",
                    config.topic_names,
                    "CREATE",
                    "DESCRIBE",
                    "ALTER",
                    "DESCRIBE_CONFIGS",
                    "ALTER_CONFIGS",
                )
            ),
        )
    )
    found.append(
        Principal(
            "smoke",
            (
                *_on("topic", inputs, "WRITE", "READ", "DESCRIBE"),
                *_on("topic", [dead_letter], "DESCRIBE"),
                Grant("group", SMOKE_GROUP_PREFIX, "READ", prefixed=True),
            ),
        )
    )
    return found


def principal_users(config: AppConfig) -> list[str]:
    """Every SCRAM user the system needs: the super users first, then the components."""
    return [BROKER_USER, ADMIN_USER, *(p.user for p in principals(config))]


class PrincipalsError(RuntimeError):
    """Credentials or ACLs could not be applied; the message names the principal."""


def acl_bindings(principal: Principal) -> list[AclBinding]:
    kinds = {
        "topic": ResourceType.TOPIC,
        "group": ResourceType.GROUP,
        "cluster": ResourceType.BROKER,
    }
    return [
        AclBinding(
            kinds[grant.kind],
            grant.name,
            ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
            principal.name,
            "*",
            AclOperation[grant.operation],
            AclPermissionType.ALLOW,
        )
        for grant in principal.grants
    ]


@dataclass
class ApplyReport:
    credentials: list[str]
    acls_added: int
    acls_removed: int


def apply_principals(
    admin: AdminClient,
    config: AppConfig,
    passwords: Mapping[str, str],
    *,
    mechanism: str = "SCRAM-SHA-512",
    timeout: float = 30,
) -> ApplyReport:
    """Set the SCRAM credential of every user in ``passwords`` and make each principal's
    ACLs exactly those of :func:`principals` (grants it no longer has are removed)."""
    scram = ScramMechanism[mechanism.replace("-", "_")]
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(scram, SCRAM_ITERATIONS), password.encode()
        )
        for user, password in sorted(passwords.items())
    ]
    if upserts:
        for user, future in admin.alter_user_scram_credentials(
            upserts, request_timeout=timeout
        ).items():
            try:
                future.result()
            except KafkaException as exc:
                raise PrincipalsError(
                    f"kafka user {user}: cannot set its credential: {exc}"
                ) from exc
    added = removed = 0
    for principal in principals(config):
        wanted = acl_bindings(principal)
        existing_filter = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]  # None matches any name (librdkafka's filter)
            ResourcePatternType.ANY,
            principal.name,
            None,  # type: ignore[arg-type]  # and any host
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        try:
            existing = admin.describe_acls(existing_filter, request_timeout=timeout).result()
            stale = [binding for binding in existing if binding not in wanted]
            missing = [binding for binding in wanted if binding not in existing]
            if missing:
                for future in admin.create_acls(missing, request_timeout=timeout).values():
                    future.result()
            if stale:
                filters = [
                    AclBindingFilter(
                        b.restype,
                        b.name,
                        b.resource_pattern_type,
                        b.principal,
                        b.host,
                        b.operation,
                        b.permission_type,
                    )
                    for b in stale
                ]
                for future in admin.delete_acls(filters, request_timeout=timeout).values():
                    future.result()
        except KafkaException as exc:
            raise PrincipalsError(f"kafka principal {principal.name}: ACLs: {exc}") from exc
        added += len(missing)
        removed += len(stale)
    return ApplyReport(sorted(passwords), added, removed)
