"""The images build from files that exist, on pinned bases, and run real `airlines` commands.

No Docker engine here: the Dockerfiles are checked statically, and every command the
chart makes a container run is parsed by the CLI itself (typer/click), options included.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from tests.chart.helm import ROOT, Result
from tests.chart.manifests import by_kind, containers, pod_specs, with_carried

from airlines.cli import app
from airlines.config.chart.umbrella import ChartValues

pytestmark = pytest.mark.chart

DOCKERFILES = sorted((ROOT / "images").glob("*/Dockerfile"))
#: Commands the chart runs that another part of the project is still building. A strict
#: xfail: the test starts failing as soon as the command exists, so the entry is removed.
PENDING_COMMANDS: set[str] = set()


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = dockerfile.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _args(dockerfile: Path) -> dict[str, str]:
    return {
        k: v
        for word, rest in _instructions(dockerfile)
        if word == "ARG" and "=" in rest
        for k, v in [rest.split("=", 1)]
    }


def _dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore (an allow-list: '*' then '!path') sends ``path``."""
    rules = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [r[1:].rstrip("/") for r in rules if r.startswith("!")]
    assert "*" in rules, ".dockerignore should exclude everything by default"
    return any(path == a or path.startswith(a + "/") or a.startswith(path + "/") for a in allowed)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_copy_sources_exist_and_are_in_the_context(dockerfile: Path) -> None:
    copies = [rest for word, rest in _instructions(dockerfile) if word == "COPY"]
    assert copies
    for rest in copies:
        parts = shlex.split(rest)
        if any(p.startswith("--from") for p in parts):
            continue
        sources = [p for p in parts if not p.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile}: COPY {source}: no such file"
            assert _dockerignore_allows(source.rstrip("/")), f".dockerignore drops {source}"


#: Trees of the repository that are test support: never part of an image.
TEST_TREES = ("testkit", "tests")


def _context_copies(dockerfile: Path) -> list[str]:
    """What a Dockerfile's COPY instructions take from the build context (not from a stage)."""
    sources = []
    for word, rest in _instructions(dockerfile):
        parts = shlex.split(rest)
        if word != "COPY" or any(p.startswith("--from") for p in parts):
            continue
        sources += [p.removeprefix("./").rstrip("/") for p in parts if not p.startswith("--")][:-1]
    return sources


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_copy_the_product_and_never_its_tests(dockerfile: Path) -> None:
    sources = _context_copies(dockerfile)
    assert "src" in sources, f"{dockerfile}: the product (src) is not copied: {sources}"
    for source in sources:
        assert source not in ("", "."), f"{dockerfile}: COPY of the whole context"
        for tree in TEST_TREES:
            inside = source == tree or source.startswith(f"{tree}/")
            assert not inside, f"{dockerfile}: COPY {source}: test support in an image"
    for tree in TEST_TREES:
        assert not _dockerignore_allows(tree), f".dockerignore sends {tree}/ to the build"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_bases_are_pinned_official_images(dockerfile: Path) -> None:
    args = _args(dockerfile)
    stages: set[str] = set()
    for word, rest in _instructions(dockerfile):
        if word != "FROM":
            continue
        image, *alias = rest.split(" AS ") if " AS " in rest else rest.split(" as ")
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], image.strip())
        if alias:
            stages.add(alias[0].strip())
        if image in stages:
            continue
        name, _, tag = image.rpartition(":")
        assert name, f"{dockerfile}: FROM {image} has no tag"
        assert tag != "latest", f"{dockerfile}: FROM {image} is not pinned"
        assert "bitnami" not in name, f"{dockerfile}: no Bitnami images"
        assert re.search(r"\d", tag), f"{dockerfile}: FROM {image}: tag names no version"
    assert any(
        word == "USER" and re.fullmatch(r"\d+(:\d+)?", rest) and not rest.startswith("0")
        for word, rest in _instructions(dockerfile)[-6:]
    ), f"{dockerfile}: must end as a numeric non-root USER"


def test_versions_agree() -> None:
    """Spark base image = PySpark pin = connector pom = chart sparkVersion; image tags =
    project version = chart appVersion."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (pyspark,) = project["optional-dependencies"]["spark"]
    spark_version = pyspark.split("==")[1]
    spark_base = _args(ROOT / "images/spark-job/Dockerfile")["SPARK_IMAGE"]
    assert spark_base.startswith(f"apache/spark:{spark_version}-")
    assert "python3" in spark_base
    for module in ("spark-kafka", "spark-job"):
        pom = (ROOT / f"jvm/{module}/pom.xml").read_text(encoding="utf-8")
        assert f"<spark.version>{spark_version}</spark.version>" in pom, module
    values = ChartValues()
    assert values.streaming.spark_version == spark_version
    chart = yaml.safe_load((ROOT / "charts/airlines-analytics/Chart.yaml").read_text())
    assert chart["appVersion"] == project["version"]
    for image in (values.global_.images.producer, values.global_.images.spark_job):
        assert image.tag == project["version"]


def test_spark_image_builds_the_connector_from_the_setup_pom() -> None:
    dockerfile = ROOT / "images/spark-job/Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    assert "COPY jvm/spark-kafka/pom.xml" in text
    assert "dependency:copy-dependencies" in text
    setup = (ROOT / "scripts/setup.sh").read_text(encoding="utf-8")
    assert "dependency:copy-dependencies -DincludeScope=runtime" in setup
    assert "-DincludeScope=runtime" in text
    assert "COPY --from=jars /jars/ /opt/spark/jars/" in text
    # The job's own functions, from the module scripts/setup.sh builds.
    assert "COPY jvm/spark-job " in text
    assert "-f jvm/spark-job/pom.xml" in setup
    # The project without the [spark] extra: the base image ships Spark.
    assert "[spark]" not in re.sub(r"#.*", "", text)


# --- what the chart runs is a real command ------------------------------------------


def _rendered(render_env: dict[str, Result]) -> list[dict[str, Any]]:
    result = render_env["default"]
    assert result.returncode == 0, result.stderr
    return with_carried(result.documents)


def _chart_commands(docs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(where, argv after 'airlines') of every container, helm test pod and job."""
    out = []
    for pod in pod_specs(docs):
        if pod.spark:
            continue
        for container in containers(pod):
            if container.get("command") == ["airlines"]:
                out.append((pod.where, [str(a) for a in container.get("args", [])]))
    (spark_app,) = by_kind(docs, "SparkApplication")
    main = spark_app["spec"]["mainApplicationFile"].removeprefix("local://")
    assert main == "/opt/airlines/jobs/flight_analytics.py"
    # jobs/flight_analytics.py runs `airlines stream <arguments>` (see that file).
    assert 'sys.argv = ["airlines", "stream", *sys.argv[1:]]' in (
        ROOT / "jobs/flight_analytics.py"
    ).read_text(encoding="utf-8")
    out.append(("SparkApplication", ["stream", *spark_app["spec"]["arguments"]]))
    return out


def _parse(argv: list[str]) -> Any:
    """Resolve argv in the CLI's command tree and parse its options (nothing runs).

    Typer vendors click, so the tree is walked by duck typing: groups have ``commands``.
    A bad option or value raises the CLI's own usage error (exit code 2).
    """
    command: Any = typer.main.get_command(app)
    path = ["airlines"]
    rest = list(argv)
    while hasattr(command, "commands"):
        assert rest, f"{' '.join(path)}: a subcommand is needed"
        name = rest.pop(0)
        assert name in command.commands, f"{' '.join(path)}: no command {name!r}"
        command = command.commands[name]
        path.append(name)
    command.make_context(" ".join(path), rest, resilient_parsing=False)
    return command


def test_chart_runs_only_cli_containers_or_official_servers(render_env: dict[str, Result]) -> None:
    """Our containers run `airlines`; only the infrastructure images run their servers."""
    project = {"airlines-analytics/producer", "airlines-analytics/spark-job"}
    for pod in pod_specs(_rendered(render_env)):
        for container in containers(pod):
            if pod.spark:
                continue
            repository = container["image"].rsplit(":", 1)[0]
            if repository in project:
                assert container["command"] == ["airlines"], pod.where
            else:
                assert repository in {"zookeeper", "apache/kafka", "redis"}, repository


def _command_cases() -> list[Any]:
    """One case per command the chart runs (rendered once, at collection)."""
    import tempfile

    from tests.chart.helm import offline_chart, template

    # Collected even by `make unit` (which deselects chart tests): never raise here.
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = template(offline_chart(Path(tmp)))
    except AssertionError as exc:  # helm is not built
        return [pytest.param(["!", str(exc)], id="no-helm")]
    if result.returncode != 0:
        return [pytest.param(["!", result.stderr], id="render-failed")]
    cases = []
    for where, argv in _chart_commands(with_carried(result.documents)):
        marks = []
        if argv[0] in PENDING_COMMANDS:
            marks.append(
                pytest.mark.xfail(strict=True, reason=f"`airlines {argv[0]}` not built yet")
            )
        cases.append(pytest.param(argv, id=f"{where}:{' '.join(argv[:2])}", marks=marks))
    return cases


@pytest.mark.parametrize("argv", _command_cases())
def test_chart_command_is_a_real_cli_command(argv: list[str]) -> None:
    assert argv[0] != "!", argv[1]
    _parse(argv)


def _usage_error(argv: list[str]) -> int | None:
    try:
        _parse(argv)
    except AssertionError:
        return -1
    except Exception as exc:  # the vendored click's UsageError/BadParameter
        return getattr(exc, "exit_code", None)
    return 0


def test_command_check_catches_mistakes() -> None:
    assert _usage_error(["produce", "--region", "north-pole"]) == 2
    assert _usage_error(["topics", "ensure", "--no-such-option"]) == 2
    assert _usage_error(["no-such-command"]) == -1
    assert _usage_error(["produce", "--region", "east-coast"]) == 0


def test_build_script_reports_a_missing_engine(tmp_path: Path) -> None:
    """Neither Docker nor minikube nor buildah: a clear message, no half-done build."""
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    # Only what the script needs besides the engines (buildah may be installed here).
    for tool in ("bash", "sed", "head", "dirname", "cat"):
        found = shutil.which(tool)
        assert found, tool
        (fake / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(fake)}
    proc = subprocess.run(
        [str(ROOT / "scripts/build-images.sh")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 1
    assert "no running Docker engine" in proc.stderr
    assert "minikube start" in proc.stderr
    assert "buildah" in proc.stderr


def test_build_script_builds_both_images(tmp_path: Path) -> None:
    env = {**os.environ, "DRY_RUN": "1", "BUILDER": "minikube"}
    proc = subprocess.run(
        [str(ROOT / "scripts/build-images.sh")], capture_output=True, text=True, env=env, check=True
    )
    lines = proc.stdout.splitlines()
    assert lines == [
        f"+ minikube image build -f images/{image}/Dockerfile -t airlines-analytics/{image}:0.1.0 ."
        for image in ("producer", "spark-job")
    ]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "scripts/build-images.sh" in makefile


# --- registry access behind a TLS-intercepting proxy: build secrets, never layers --------

#: Build secret id → (the file RUN steps see, what uses it).
SECRETS = {
    "ca-bundle": ("/run/secrets/ca-bundle.crt", "PIP_CERT"),
    "java-truststore": ("/run/secrets/java-truststore", "-Djavax.net.ssl.trustStore"),
}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_registry_steps_take_the_proxy_ca_as_an_optional_build_secret(dockerfile: Path) -> None:
    """Every RUN that reaches PyPI (pip install) or Maven Central (mvn) mounts the CA as a
    BuildKit/buildah secret and uses it only when given: a build without it still works
    where no proxy intercepts TLS."""
    runs = [rest for word, rest in _instructions(dockerfile) if word == "RUN"]
    needs = {"ca-bundle": "pip install", "java-truststore": "mvn "}
    for secret, marker in needs.items():
        target, use = SECRETS[secret]
        for run in (r for r in runs if marker in r):
            mount = f"--mount=type=secret,id={secret},target={target}"
            assert run.startswith(mount), f"{dockerfile}: RUN with {marker!r} lacks {mount}"
            assert f"if [ -f {target} ]; then" in run, f"{dockerfile}: {secret} must be optional"
            assert use in run
    assert any("pip install" in r or "mvn " in r for r in runs)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_no_certificate_reaches_an_image_layer(dockerfile: Path) -> None:
    """Certificates only ever arrive as secret mounts: no COPY/ADD of a bundle, no ENV or
    ARG naming one (an ENV would point at a file that is not there at run time), and the
    secrets are mounted beside the image's own bundle, never over it."""
    for word, rest in _instructions(dockerfile):
        lowered = rest.lower()
        if word != "RUN":
            for needle in ("cert", "ca-bundle", "truststore", "cacerts", "/etc/ssl"):
                assert needle not in lowered, f"{dockerfile}: {word} {rest}"
        for target, _use in SECRETS.values():
            if target in rest:
                assert target.startswith("/run/secrets/")
        assert "target=/etc/ssl" not in rest, "mounting over the image's bundle breaks apt"


# --- digests ------------------------------------------------------------------------------


def _image_paths(model: type[Any] = ChartValues, prefix: str = "") -> list[str]:
    """Dotted values paths (aliases) of every ImageValues in the values models."""
    from pydantic import BaseModel

    from airlines.config.chart.blocks import ImageValues

    out = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        kind = field.annotation
        if kind is ImageValues:
            out.append(key)
        elif isinstance(kind, type) and issubclass(kind, BaseModel):
            out += _image_paths(kind, key + ".")
    return out


def test_every_image_pulls_by_digest_when_one_is_set(tmp_path: Path) -> None:
    """A digest on every image of the values (and the operator's, through its own tag):
    every image reference the chart renders, the SparkApplication's included, is
    repository@digest."""
    from tests.chart.helm import full_chart, template

    paths = _image_paths()
    assert {"global.images.producer", "global.images.sparkJob", "kafka.image"} <= set(paths)
    digest = "sha256:" + "ab" * 32
    values: dict[str, Any] = {}
    for dotted in paths:
        node = values
        for part in dotted.split("."):
            node = node.setdefault(part, {})
        node["digest"] = digest
    operator_tag = f"2.4.0@{digest}"  # kubeflow's chart takes no digest key: its tag does
    values.setdefault("spark-operator", {})["image"] = {"tag": operator_tag}
    file = tmp_path / "digests.yaml"
    file.write_text(yaml.safe_dump(values))
    result = template(full_chart(tmp_path), [file])
    assert result.returncode == 0, result.stderr
    refs = set(re.findall(r"^\s*(?:- )?image: \"?([^\s\"]+)", result.stdout, re.M))
    assert len(refs) >= 5, refs
    assert all(ref.endswith("@" + digest) for ref in refs), refs
    assert "airlines-analytics/spark-job@" + digest in refs  # in the SparkApplication
    assert f"ghcr.io/kubeflow/spark-operator/controller:{operator_tag}" in refs
    assert not any(
        re.search(r":[0-9][^@/]*@", r)
        for r in refs - {f"ghcr.io/kubeflow/spark-operator/controller:{operator_tag}"}
    )
