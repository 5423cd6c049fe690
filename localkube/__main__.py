"""``python -m localkube``: the e2e cluster's commands (see ``make e2e``, ``make e2e-up``).

up       start the cluster (building and importing the images first)
down     stop it, clean up, and fail if anything is left
status   what runs
test     run tests/e2e against the running cluster (two lanes side by side)
e2e      the whole e2e tier: tools, images, cluster, tests, teardown, phase timings
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

from localkube import cluster, leftovers
from localkube.spec import Spec

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True, highlight=False)


def _progress(message: str) -> None:
    console.print(f"[bold blue]==>[/] {message}")


def _load_images(address: str) -> None:
    from localkube import images

    built = images.build_all(progress=_progress)
    images.load_into_containerd(built, address=address)


@app.command()
def up() -> None:
    """Start the cluster: containerd, etcd, control plane, kubelet, kube-proxy, addons."""
    spec = Spec()
    try:
        cluster.up(spec, _progress, _load_images)
    except cluster.ClusterError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    _progress(f"cluster ready: export KUBECONFIG={spec.kubeconfig}")


@app.command()
def down() -> None:
    """Stop the cluster and remove what it left; exit 1 if anything remains."""
    remaining = cluster.down(Spec(), _progress)
    if remaining:
        console.print("[bold red]error:[/] left behind:\n  - " + "\n  - ".join(remaining))
        raise typer.Exit(1)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Which components run, whether the node is Ready, and (when stopped) what is left."""
    spec = Spec()
    info = cluster.status(spec)
    running: dict[str, bool] = info["components"]  # type: ignore[assignment]
    left = [] if any(running.values()) else leftovers.find(spec)
    if as_json:
        sys.stdout.write(json.dumps({**info, "leftovers": left}, indent=2) + "\n")
        return
    for name, up in running.items():
        console.print(f"  {name:<24} {'[green]running[/]' if up else '[dim]stopped[/]'}")
    console.print(f"  node Ready: {info['nodeReady']}   KUBECONFIG={info['kubeconfig']}")
    for line in left:
        console.print(f"  [yellow]left behind:[/] {line}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run tests/e2e against the running cluster (make e2e-up), in two lanes side by side.
    Extra arguments go to pytest (e.g. -k upgrade)."""
    from localkube import lanes

    raise typer.Exit(lanes.run(Spec().kubeconfig, ctx.args))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def e2e(ctx: typer.Context) -> None:
    """Everything of make e2e: tools, images, cluster, tests/e2e, teardown, timings.
    Extra arguments go to pytest (e.g. -k upgrade)."""
    from localkube import e2e as runner

    raise typer.Exit(runner.main(ctx.args))


if __name__ == "__main__":
    app()
