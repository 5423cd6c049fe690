"""``airlines topics``, ``airlines redis`` and ``airlines smoke``: cluster administration.

These are what the chart's hook Jobs and ``helm test`` pods run, so they work against
any cluster named by a config, not only the local stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from airlines.cli.common import ConfigOption, console, err_console, fail, resolve_config
from airlines.config.types import format_duration, parse_duration

topics_app = typer.Typer(help="Kafka topics of the configuration.", no_args_is_help=True)
redis_app = typer.Typer(help="The Redis Cluster.", no_args_is_help=True)
acl_app = typer.Typer(help="The Redis ACL users (airlines.store.users).", no_args_is_help=True)
redis_app.add_typer(acl_app, name="acl")


def _seconds(option: str, value: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        fail(f"{option}: {exc}")


@topics_app.command("ensure")
def topics_ensure(
    config: ConfigOption = None,
    timeout: Annotated[str, typer.Option(help="Overall time limit.")] = "60s",
) -> None:
    """Create missing topics, grow partitions; report replication-factor mismatches.

    Idempotent. Returns once each partition's leader answers for it, so producers and
    consumers started next can use the topics. Exits 1 if a topic cannot be made to
    match the config.
    """
    from rich.table import Table

    from airlines.kafka.admin import KafkaAdminError, ensure_topics, topic_specs

    app_config = resolve_config(config)
    limit = _seconds("--timeout", timeout)
    try:
        outcomes = ensure_topics(app_config.kafka, topic_specs(app_config), timeout=limit)
    except KafkaAdminError as exc:
        fail(str(exc), 1)
    table = Table(show_edge=False, pad_edge=False)
    for column in ("topic", "partitions", "replicas", "action", "notes"):
        table.add_column(column)
    for outcome in outcomes:
        action = outcome.action if outcome.ok else f"[red]{outcome.action}[/]"
        table.add_row(
            outcome.name,
            str(outcome.partitions),
            str(outcome.replication_factor),
            action,
            "; ".join(outcome.notes + outcome.problems),
        )
    console.print(table)
    bad = [o for o in outcomes if not o.ok]
    for outcome in bad:
        err_console.print(
            f"[bold red]error:[/] topic {outcome.name}: {'; '.join(outcome.problems)}",
            highlight=False,
            soft_wrap=True,
        )
    if bad:
        raise typer.Exit(1)


@topics_app.command("describe")
def topics_describe(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Partitions, replicas, in-sync replicas and min.insync.replicas of each topic."""
    from rich.table import Table

    from airlines.kafka.admin import KafkaAdminError, cluster_metadata, topic_config, topic_specs

    app_config = resolve_config(config)
    rows: list[dict[str, object]] = []
    try:
        metadata = cluster_metadata(app_config.kafka)
        for spec in topic_specs(app_config):
            topic = metadata.topics.get(spec.name)
            if topic is None:
                rows.append({"name": spec.name, "missing": True})
                continue
            parts = topic.partitions.values()
            min_isr = topic_config(app_config.kafka, spec.name).get("min.insync.replicas")
            rows.append(
                {
                    "name": spec.name,
                    "missing": False,
                    "partitions": len(topic.partitions),
                    "replicationFactor": max(len(p.replicas) for p in parts),
                    "minInsyncReplicas": int(min_isr) if min_isr else None,
                    "underReplicatedPartitions": sum(
                        1 for p in parts if len(p.isrs) < len(p.replicas)
                    ),
                }
            )
    except KafkaAdminError as exc:
        fail(str(exc), 1)
    missing = [str(row["name"]) for row in rows if row["missing"]]
    if as_json:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("topic", "partitions", "replicas", "min in sync", "under-replicated"):
            table.add_column(column)
        for row in rows:
            if row["missing"]:
                table.add_row(str(row["name"]), "-", "-", "-", "[red]missing[/]")
            else:
                table.add_row(
                    str(row["name"]),
                    str(row["partitions"]),
                    str(row["replicationFactor"]),
                    str(row["minInsyncReplicas"] or "?"),
                    str(row["underReplicatedPartitions"]),
                )
        console.print(table)
    if missing:
        fail(f"topics missing: {', '.join(missing)} (run 'airlines topics ensure')", 1)


@redis_app.command("bootstrap")
def redis_bootstrap_command(
    config: ConfigOption = None,
    replicas: Annotated[int, typer.Option(min=0, help="Replicas per primary.")] = 1,
    timeout: Annotated[
        str, typer.Option(help="Give up if the cluster is not formed within this.")
    ] = "180s",
) -> None:
    """Form the Redis Cluster of redis.nodes (re-runnable: finishes what is missing).

    Host names are resolved for CLUSTER MEET; slots go evenly to primaries that have
    none; the remaining nodes become replicas. A complete cluster is left as it is.
    """
    from airlines.store.bootstrap import BootstrapError, bootstrap
    from airlines.store.connect import RedisAccess, RedisPasswordError

    app_config = resolve_config(config)
    limit = _seconds("--timeout", timeout)
    try:
        report = bootstrap(
            app_config.redis.nodes,
            RedisAccess.of(app_config.redis),
            replicas=replicas,
            timeout=limit,
            log=lambda message: console.print(f"  {message}", highlight=False),
        )
    except (BootstrapError, RedisPasswordError) as exc:
        fail(str(exc), 1)
    nodes = len(app_config.redis.nodes)
    if report.changed:
        console.print(f"[green]cluster formed[/]: {nodes} nodes, healthy", highlight=False)
    else:
        console.print(
            f"cluster already complete ({nodes} nodes, healthy): nothing to do", highlight=False
        )


def smoke(
    config: ConfigOption = None,
    checks: Annotated[
        str, typer.Option(help="Comma-separated: kafka, redis, analytics.")
    ] = "kafka,redis,analytics",
    analytics_within: Annotated[
        str, typer.Option(help="The streaming job's last batch must be this recent.")
    ] = "90s",
    timeout: Annotated[str, typer.Option(help="Per-message produce/consume limit.")] = "30s",
) -> None:
    """Check a deployment end to end (what `helm test` runs); exit 1 on any failure.

    kafka: produce a marker to every topic and read it back; redis: cluster state, slot
    coverage, replicas, a write/read round trip; analytics: the streaming job's
    heartbeat is recent.
    """
    from rich.table import Table

    from airlines.ops.smoke import parse_checks, run_smoke

    try:
        chosen = parse_checks(checks)
    except ValueError as exc:
        fail(f"--checks: {exc}")
    try:
        within = parse_duration(analytics_within)
    except ValueError as exc:
        fail(f"--analytics-within: {exc}")
    limit = _seconds("--timeout", timeout)
    app_config = resolve_config(config)
    results = run_smoke(app_config, chosen, within, limit)
    table = Table(show_edge=False, pad_edge=False, title="airlines smoke")
    for column in ("check", "", "result", "detail"):
        table.add_column(column)
    for result in results:
        mark = "[green]pass[/]" if result.ok else "[bold red]FAIL[/]"
        table.add_row(result.group, result.name, mark, result.detail)
    console.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        err_console.print(
            f"[bold red]smoke failed[/]: {len(failed)} of {len(results)} checks "
            f"({', '.join(f'{r.group} {r.name}' for r in failed)})",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(
        f"[green]smoke passed[/]: {len(results)} checks "
        f"(analytics within {format_duration(within)})"
        if "analytics" in chosen
        else f"[green]smoke passed[/]: {len(results)} checks",
        highlight=False,
    )


@acl_app.command("render")
def redis_acl_render(
    passwords_dir: Annotated[
        Path,
        typer.Option(
            help="Directory with one file per user, named as the user, holding its password "
            "(a Secret mounted with one key per user)."
        ),
    ],
    output: Annotated[
        Path, typer.Option(help="Write the ACL file here (mode 0600); '-' for stdout.")
    ] = Path("-"),
    key_prefix: Annotated[
        list[str] | None,
        typer.Option(help="Key prefix the writer and reader may use (repeatable) [aa]."),
    ] = None,
) -> None:
    """Write the Redis ACL file (``aclfile``) of every user; passwords only as SHA-256."""
    from airlines.paths import write_private
    from airlines.store.users import AclError, read_passwords, render_acl

    try:
        text = render_acl(read_passwords(passwords_dir), key_prefix or ["aa"])
    except AclError as exc:
        fail(str(exc), 1)
    if str(output) == "-":
        print(text, end="")
    else:
        write_private(output, text)
