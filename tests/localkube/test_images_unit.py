"""The image table agrees with what the chart, the Dockerfiles and the cluster tools name,
and the build/import command lines are what they should be (pure logic: nothing is built)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from localkube import buildah, images, paths

ROOT = paths.REPO


def _arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile.read_text(), re.MULTILINE))


@pytest.mark.parametrize(
    ("ref", "normalized"),
    [
        ("zookeeper:3.9.4", "docker.io/library/zookeeper:3.9.4"),
        ("apache/kafka:3.9.1", "docker.io/apache/kafka:3.9.1"),
        ("redis", "docker.io/library/redis:latest"),
        ("airlines-analytics/producer:0.1.0", "docker.io/airlines-analytics/producer:0.1.0"),
        ("ghcr.io/kubeflow/spark-operator/c:2", "ghcr.io/kubeflow/spark-operator/c:2"),
        ("localhost/localkube/pause:v1.36.3", "localhost/localkube/pause:v1.36.3"),
        ("registry:5000/x/y", "registry:5000/x/y:latest"),
        ("redis@sha256:" + "0" * 64, "docker.io/library/redis@sha256:" + "0" * 64),
    ],
)  # fmt: skip
def test_normalize_like_docker_and_the_kubelet(ref: str, normalized: str) -> None:
    assert images.normalize(ref) == normalized


def test_table_is_in_build_order_with_unique_names() -> None:
    seen: set[str] = set()
    for spec in images.IMAGES:
        assert spec.name not in seen
        assert all(parent in seen for parent in spec.parents), spec.name
        seen.add(spec.name)
    tags = [spec.tag for spec in images.IMAGES]
    assert len(set(tags)) == len(tags)
    assert all(tag.startswith("localhost/") for tag in tags), "local names only in buildah"


def test_cluster_names_are_what_the_chart_references() -> None:
    """The stand-ins carry exactly the chart's image references inside containerd."""
    values = yaml.safe_load((ROOT / "charts/airlines-analytics/values.yaml").read_text())
    for component, name in (
        ("zookeeper", "zookeeper"),
        ("kafka", "kafka"),
        ("redis-cluster", "redis"),
    ):
        image = values[component]["image"]
        assert images.spec(name).cluster == (f"{image['repository']}:{image['tag']}",)
        assert images.spec(name).stands_in_for == images.spec(name).cluster[0]
    for key, name in (("producer", "producer"), ("sparkJob", "spark-job")):
        image = values["global"]["images"][key]
        expected = f"{image['repository']}:{image['tag']}"
        assert images.spec(name).cluster_refs == (images.normalize(expected),)
        assert images.spec(name).tag == f"localhost/{expected}"
    # the chart's default pull policy finds them: no registry in front
    assert images.cluster_ref("redis") == "docker.io/library/redis:8.0.2"


def test_spark_operator_image_is_the_committed_charts_default() -> None:
    package = ROOT / "charts/airlines-analytics/charts/spark-operator-2.4.0.tgz"
    with tarfile.open(package) as tgz:
        chart = yaml.safe_load(_member(tgz, "spark-operator/Chart.yaml"))
        values = yaml.safe_load(_member(tgz, "spark-operator/values.yaml"))
    image = values["image"]
    ref = f"{image['registry']}/{image['repository']}:{image['tag'] or chart['appVersion']}"
    assert images.spec("spark-operator").cluster_refs == (ref,)
    lock = yaml.safe_load((ROOT / "charts/airlines-analytics/Chart.lock").read_text())
    (dep,) = [d for d in lock["dependencies"] if d["name"] == "spark-operator"]
    assert dep["version"] == chart["version"]


def _member(tgz: tarfile.TarFile, name: str) -> str:
    handle = tgz.extractfile(name)
    assert handle is not None
    return handle.read().decode()


def test_build_bases_are_the_project_dockerfiles_defaults() -> None:
    """PYTHON_IMAGE/SPARK_IMAGE/MAVEN_IMAGE each map to the stand-in of that very image."""
    for spec in images.IMAGES:
        if not spec.build_args:
            continue
        assert spec.project
        defaults = _arg_defaults(spec.dockerfile)
        for arg, parent in spec.build_args:
            assert images.spec(parent).stands_in_for == defaults[arg], (spec.name, arg)
            assert parent in spec.parents


def test_versions_agree_with_the_cluster_tools_script() -> None:
    script = (ROOT / "scripts/setup-cluster-tools.sh").read_text()
    versions = dict(re.findall(r"^(\w+_VERSION)=(\S+)", script, re.MULTILINE))
    assert images.spec("pause").tag.endswith(":" + versions["K8S_VERSION"])
    assert images.spec("coredns").tag.endswith(":" + versions["COREDNS_VERSION"].lstrip("v"))
    assert images.spec("spark-operator").tag.endswith(
        ":" + versions["SPARK_OPERATOR_VERSION"].lstrip("v")
    )
    lpp = images.spec("local-path-provisioner").tag
    assert lpp.endswith(":" + versions["LOCAL_PATH_PROVISIONER_VERSION"])
    assert "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION" in script


def test_spark_standin_is_the_pyspark_pin() -> None:
    assert images.spec("spark").tag.split(":")[1].startswith(images.PYSPARK_VERSION + "-")
    dockerfile = images.spec("spark").dockerfile.read_text()
    assert f"COPY pyspark-{images.PYSPARK_VERSION}.tar.gz" in dockerfile
    assert f"spark-core_2.13-{images.PYSPARK_VERSION}.jar" in dockerfile


def test_standin_poms_pin_the_official_versions() -> None:
    zookeeper = (images.STANDINS / "zookeeper/pom.xml").read_text()
    assert "<zookeeper.version>3.9.4</zookeeper.version>" in zookeeper
    kafka = (images.STANDINS / "kafka/pom.xml").read_text()
    assert "<kafka.version>3.9.1</kafka.version>" in kafka
    assert "slf4j-reload4j" in kafka


@pytest.mark.parametrize(
    "spec", [s for s in images.IMAGES if s.name != "debian" and not s.project], ids=lambda s: s.name
)
def test_every_standin_says_what_it_is(spec: images.ImageSpec) -> None:
    text = spec.dockerfile.read_text()
    (label,) = re.findall(rf'^LABEL {re.escape(images.LABEL)}="([^"]+)"', text, re.MULTILINE)
    assert "localkube stand-in for " in label
    assert spec.stands_in_for.split(":")[0] in label
    assert "never pushed" in label
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    parents = {images.spec(p).tag for p in spec.parents}
    assert set(froms) - {"scratch"} == parents, "FROM exactly the declared parents"


def test_bud_command_line() -> None:
    tool = buildah.Buildah(root=Path("/c/storage"), runroot=Path("/c/run"))
    argv = tool.bud_argv(
        dockerfile=Path("/ctx/Dockerfile"),
        context=Path("/ctx"),
        tag="localhost/x:1",
        build_args={"B": "2", "A": "1"},
        secrets={"ca-bundle": Path("/etc/ca.crt")},
    )
    assert argv[:5] == ["buildah", "--root", "/c/storage", "--runroot", "/c/run"]
    assert argv[5] == "bud"
    assert argv[6 : 6 + len(buildah.BUD_FLAGS)] == list(buildah.BUD_FLAGS)
    assert {"--isolation", "chroot", "--layers"} <= set(buildah.BUD_FLAGS)
    rest = argv[6 + len(buildah.BUD_FLAGS) :]
    assert rest == [
        "-f", "/ctx/Dockerfile", "-t", "localhost/x:1",
        "--build-arg", "A=1", "--build-arg", "B=2",
        "--secret", "id=ca-bundle,src=/etc/ca.crt",
        "/ctx",
    ]  # fmt: skip


def _dry_run(**env: str) -> list[str]:
    proc = subprocess.run(
        [str(ROOT / "scripts/build-images.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "DRY_RUN": "1", **env},
        check=True,
    )
    return proc.stdout.splitlines()


def test_build_script_with_buildah_passes_bases_and_secrets() -> None:
    lines = _dry_run(
        BUILDER="buildah",
        IMAGES="spark-job",
        BUILDAH_ROOT="/s",
        BUILDAH_RUNROOT="/r",
        BUILD_ARGS="SPARK_IMAGE=localhost/lk/spark:x MAVEN_IMAGE=localhost/lk/maven:y",
        CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt",
        JAVA_TRUSTSTORE="/etc/ssl/certs/java/cacerts",
    )
    assert lines == [
        "+ buildah --root /s --runroot /r bud --isolation chroot --network host --layers"
        " --pull=false --build-arg SPARK_IMAGE=localhost/lk/spark:x"
        " --build-arg MAVEN_IMAGE=localhost/lk/maven:y"
        " --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt"
        " --secret id=java-truststore,src=/etc/ssl/certs/java/cacerts"
        " -f images/spark-job/Dockerfile -t airlines-analytics/spark-job:0.1.0 ."
    ]


def test_build_script_qualifies_default_bases_for_buildah() -> None:
    (line,) = _dry_run(BUILDER="buildah", IMAGES="producer")
    assert "--build-arg PYTHON_IMAGE=docker.io/library/python:3.11.13-slim-bookworm" in line


def test_build_script_passes_secrets_to_docker_not_minikube() -> None:
    (line,) = _dry_run(BUILDER="docker", IMAGES="producer", CA_BUNDLE="/ca.crt")
    assert line == (
        "+ docker build --secret id=ca-bundle,src=/ca.crt"
        " -f images/producer/Dockerfile -t airlines-analytics/producer:0.1.0 ."
    )
    proc = subprocess.run(
        [str(ROOT / "scripts/build-images.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "DRY_RUN": "1", "BUILDER": "minikube", "CA_BUNDLE": "/ca.crt"},
        check=False,
    )
    assert proc.returncode == 2
    assert "cannot pass build secrets" in proc.stderr


def test_parse_ctr_images_ls() -> None:
    output = "\n".join(
        [
            "REF   TYPE   DIGEST   SIZE   PLATFORMS   LABELS",
            "docker.io/library/redis:8.0.2 application/vnd.docker.distribution.manifest.v2+json"
            " sha256:aaaa 120.5 MiB linux/amd64 localkube.image-id=abc,other=1",
            "localhost/localkube/pause:v1.36.3 application/vnd.oci.image.manifest.v1+json"
            " sha256:bbbb 400.0 KiB linux/amd64 -",
        ]
    )
    assert images.parse_ctr_images(output) == {
        "docker.io/library/redis:8.0.2": (
            "sha256:aaaa",
            {"localkube.image-id": "abc", "other": "1"},
        ),
        "localhost/localkube/pause:v1.36.3": ("sha256:bbbb", {}),
    }


def test_digest_covers_content_names_and_modes(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/a.sh").write_text("echo hi\n")
    (tmp_path / "d/__pycache__").mkdir()
    (tmp_path / "d/__pycache__/x.pyc").write_bytes(b"\0")
    first = buildah.digest_files([("d", tmp_path / "d")])
    (tmp_path / "d/__pycache__/x.pyc").write_bytes(b"\1")
    assert buildah.digest_files([("d", tmp_path / "d")]) == first, "caches do not count"
    (tmp_path / "d/a.sh").chmod(0o755)
    assert buildah.digest_files([("d", tmp_path / "d")]) != first
    assert buildah.digest_files([("d", tmp_path / "d")], "x") != buildah.digest_files(
        [("d", tmp_path / "d")]
    )


def test_stage_context_links_exactly_the_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "jars").mkdir(parents=True)
    (src / "jars/a.jar").write_bytes(b"jar")
    (src / "Dockerfile").write_text("FROM scratch\n")
    context = tmp_path / "ctx"
    (context / "stale").mkdir(parents=True)
    buildah.stage_context(context, {"Dockerfile": src / "Dockerfile", "jars": src / "jars"})
    assert sorted(str(p.relative_to(context)) for p in context.rglob("*")) == [
        "Dockerfile",
        "jars",
        "jars/a.jar",
    ]
    assert (context / "jars/a.jar").stat().st_ino == (src / "jars/a.jar").stat().st_ino


def test_project_context_is_what_dockerignore_sends() -> None:
    files = images._project_context(images.spec("producer"))
    assert {"Dockerfile", ".dockerignore", "pyproject.toml", "src", "jobs"} <= set(files)
    assert all(path.exists() for path in files.values())


def test_secrets_are_build_secrets_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("LOCALKUBE_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("LOCALKUBE_JAVA_TRUSTSTORE", str(tmp_path / "missing"))
    assert images.build_secrets() == {"ca-bundle": bundle}


def test_cli_lists_the_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    monkeypatch.setenv("AIRLINES_CACHE", str(tmp_path))
    result = CliRunner().invoke(images.cli, ["list"])
    assert result.exit_code == 0, result.output
    out = io.StringIO(result.output).read()
    assert "ghcr.io/kubeflow/spark-operator/controller:2.4.0" in out
    assert "docker.io/library/zookeeper:3.9.4" in out
