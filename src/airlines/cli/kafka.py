"""``airlines kafka``: the principals of a secured Kafka and its brokers' certificates.

``principals apply`` is what the chart's topics hook runs (as the admin) and what
``airlines stack up`` does; ``tls issue`` is what each broker pod of the chart runs
before the broker starts, to hold a certificate for its own name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airlines.cli.common import ConfigOption, console, fail, resolve_config

app = typer.Typer(help="Kafka security: principals, ACLs and certificates.", no_args_is_help=True)
principals_app = typer.Typer(help="SCRAM users and their ACLs.", no_args_is_help=True)
tls_app = typer.Typer(help="Broker certificates.", no_args_is_help=True)
app.add_typer(principals_app, name="principals")
app.add_typer(tls_app, name="tls")

#: In a credentials directory, each user's password is the file ``<user>/password``.
PASSWORD_FILE = "password"


def read_passwords(directory: Path, users: list[str]) -> dict[str, str]:
    """``<directory>/<user>/password`` of each user present there; unknown users refused."""
    if not directory.is_dir():
        fail(f"--credentials-dir: {directory} is not a directory")
    found = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith(".") or not entry.is_dir():
            continue  # a mounted Secret's ..data links
        if entry.name not in users:
            fail(
                f"--credentials-dir: {entry.name!r} is not a principal of the system "
                f"(known: {', '.join(users)})"
            )
        password = (entry / PASSWORD_FILE).read_text(encoding="utf-8").strip()
        if not password:
            fail(f"--credentials-dir: {entry / PASSWORD_FILE} is empty")
        found[entry.name] = password
    return found


@principals_app.command("apply")
def principals_apply(
    credentials_dir: Annotated[
        Path,
        typer.Option(
            help="Directory with <user>/password for each user whose SCRAM credential "
            "is set (as mounted from the users' Secrets)."
        ),
    ],
    config: ConfigOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 30.0,
) -> None:
    """Set the users' SCRAM credentials and make every principal's ACLs exactly the table's.

    Idempotent: grants a principal no longer has are removed. Runs as a super user.
    """
    from airlines.kafka.admin import admin_client
    from airlines.kafka.principals import PrincipalsError, apply_principals, principal_users

    app_config = resolve_config(config)
    passwords = read_passwords(credentials_dir, principal_users(app_config))
    try:
        report = apply_principals(admin_client(app_config.kafka), app_config, passwords,
                                  timeout=timeout)  # fmt: skip
    except PrincipalsError as exc:
        fail(str(exc), 1)
    console.print(
        f"kafka principals: credentials set for {', '.join(report.credentials) or 'nobody'}; "
        f"ACLs {report.acls_added} added, {report.acls_removed} removed",
        highlight=False,
    )


@tls_app.command("issue")
def tls_issue(
    ca_cert: Annotated[Path, typer.Option(help="The CA's certificate (PEM).")],
    ca_key: Annotated[Path, typer.Option(help="The CA's private key (PEM, any form).")],
    out: Annotated[Path, typer.Option(help="Directory for tls.crt, tls.key and ca.crt.")],
    dns: Annotated[list[str], typer.Option(help="A DNS name of the certificate (repeat).")],
    common_name: Annotated[str, typer.Option(help="Subject common name.")] = "kafka-broker",
    days: Annotated[int, typer.Option(min=1, max=3650, help="Validity in days.")] = 825,
) -> None:
    """Issue a certificate for these names from the CA, with its key in PKCS#8 (the form
    the broker's PEM key store reads). The key file is readable by its owner only."""
    from airlines.paths import write_private
    from airlines.tls import KeyPair, issue

    try:
        ca = KeyPair(ca_cert.read_text(encoding="utf-8"), ca_key.read_text(encoding="utf-8"))
        pair = issue(ca, common_name, dns_names=dns, days=days)
    except (OSError, ValueError) as exc:
        fail(f"tls issue: {exc}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tls.crt").write_text(pair.cert + ca.cert, encoding="utf-8")
    (out / "ca.crt").write_text(ca.cert, encoding="utf-8")
    write_private(out / "tls.key", pair.key)
    console.print(f"issued {out / 'tls.crt'} for {', '.join(dns)}", highlight=False)
