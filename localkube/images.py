"""Every container image the e2e cluster runs, built with buildah and loaded into containerd.

No registry is reachable, so the official images the chart names are replaced by
stand-ins built from Debian packages, PyPI and Maven Central (``localkube/standins``), the
project's images are built from their own Dockerfiles on those stand-ins, and the cluster's
own images (pod sandbox, CoreDNS, local-path-provisioner, Spark operator) from binaries
that ``scripts/setup-cluster-tools.sh`` builds. ``IMAGES`` is the one table of what is
built, from what, and under which names the node's containerd knows it: the official
references (``docker.io/library/zookeeper:3.9.4``, ...), so that the user's own
``helm install -f values/minikube.yaml`` runs unchanged. Those names exist in that
containerd only; nothing is ever pushed.

    python -m localkube.images build            # idempotent; a warm run builds nothing
    python -m localkube.images load --address /run/containerd/containerd.sock
    python -m localkube.images list

Build-time registry access behind a TLS-intercepting proxy: the host's CA bundle and Java
truststore are passed as build secrets (``--secret id=ca-bundle`` / ``java-truststore``),
mounted only while a RUN step runs, never stored in a layer (``tests/e2e/test_images.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from localkube import imageinputs as inputs
from localkube import paths
from localkube.buildah import (
    DEBIAN_DROP,
    DEBIAN_FILES,
    DEBIAN_MIRROR,
    DEBIAN_PATH,
    DEBIAN_SUITE,
    Buildah,
    BuildError,
    debootstrap_rootfs,
    digest_files,
    run_logged,
    stage_context,
)

_PROJECT = tomllib.loads((paths.REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PROJECT_VERSION: str = _PROJECT["version"]
#: The PySpark pin (``spark`` extra): the Spark stand-in is that PyPI package.
PYSPARK_VERSION: str = _PROJECT["optional-dependencies"]["spark"][0].split("==")[1]
STANDINS = paths.REPO / "localkube" / "standins"
LABEL = "org.opencontainers.image.description"
DEBIAN_DESCRIPTION = (
    "localkube: Debian bookworm minbase (debootstrap), base of the stand-ins (never pushed)"
)
#: containerd label holding the buildah image id an imported image was exported from.
ID_LABEL = "localkube.image-id"


@dataclass(frozen=True)
class ImageSpec:
    """One image: its tag in buildah's storage and what it is built from."""

    name: str
    tag: str
    #: Images it is built FROM (by name): their ids are part of its inputs.
    parents: tuple[str, ...] = ()
    #: The official image it stands in for (what the chart or a Dockerfile names).
    stands_in_for: str = ""
    #: References in the node's containerd, as pods name them (normalised on use).
    cluster: tuple[str, ...] = ()
    #: Host-resolved parts of the build context: "jars" (pom.xml), "pyspark" (PyPI
    #: sdist), "bin:NAME" (scripts/setup-cluster-tools.sh), "operator-entrypoint".
    inputs: tuple[str, ...] = ()
    #: Project images: build arg → the parent image it names.
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def project(self) -> bool:
        return (paths.REPO / "images" / self.name / "Dockerfile").is_file()

    @property
    def dockerfile(self) -> Path:
        base = paths.REPO / "images" if self.project else STANDINS
        return base / self.name / "Dockerfile"

    @property
    def cluster_refs(self) -> tuple[str, ...]:
        return tuple(normalize(ref) for ref in self.cluster)


_V = PROJECT_VERSION
_K8S = "v1.36.3"  # = K8S_VERSION of scripts/setup-cluster-tools.sh (a unit test checks)
_SPARK = f"{PYSPARK_VERSION}-scala2.13-java17-python3-ubuntu"

_LK = "localhost/localkube/"
_OPERATOR = "ghcr.io/kubeflow/spark-operator/controller:2.4.0"

#: The one table, in build order (parents first): name, tag in buildah's storage, parents,
#: the official image it stands in for, its names in the node's containerd, host inputs.
IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("debian", _LK + "debian:bookworm", cluster=(_LK + "debian:bookworm",)),
    ImageSpec("jre", _LK + "jre:17", ("debian",), "eclipse-temurin:17-jre"),
    ImageSpec("python", _LK + "python:3.11.13-slim-bookworm", ("debian",),
              "python:3.11.13-slim-bookworm"),
    ImageSpec("spark", _LK + f"spark:{_SPARK}", ("debian", "jre"), f"apache/spark:{_SPARK}",
              inputs=("pyspark",)),
    ImageSpec("maven", _LK + "maven:3.9.11-eclipse-temurin-17", ("jre",),
              "maven:3.9.11-eclipse-temurin-17"),
    ImageSpec("zookeeper", _LK + "zookeeper:3.9.4", ("jre",), "zookeeper:3.9.4",
              ("zookeeper:3.9.4",), ("jars",)),
    ImageSpec("kafka", _LK + "kafka:3.9.1", ("jre",), "apache/kafka:3.9.1",
              ("apache/kafka:3.9.1",), ("jars",)),
    ImageSpec("redis", _LK + "redis:8.0.2", ("debian",), "redis:8.0.2", ("redis:8.0.2",)),
    ImageSpec("producer", f"localhost/airlines-analytics/producer:{_V}", ("python",),
              cluster=(f"airlines-analytics/producer:{_V}",),
              build_args=(("PYTHON_IMAGE", "python"),)),
    ImageSpec("spark-job", f"localhost/airlines-analytics/spark-job:{_V}", ("spark", "maven"),
              cluster=(f"airlines-analytics/spark-job:{_V}",),
              build_args=(("SPARK_IMAGE", "spark"), ("MAVEN_IMAGE", "maven"))),
    ImageSpec("pause", _LK + f"pause:{_K8S}", (), "registry.k8s.io/pause",
              (_LK + f"pause:{_K8S}",), ("bin:pause",)),
    ImageSpec("coredns", _LK + "coredns:1.12.4", ("debian",),
              "registry.k8s.io/coredns/coredns:v1.12.4", (_LK + "coredns:1.12.4",),
              ("bin:coredns",)),
    ImageSpec("local-path-provisioner", _LK + "local-path-provisioner:v0.0.30", ("debian",),
              "rancher/local-path-provisioner:v0.0.30",
              (_LK + "local-path-provisioner:v0.0.30",), ("bin:local-path-provisioner",)),
    ImageSpec("spark-operator", _LK + "spark-operator:2.4.0", ("spark",), _OPERATOR,
              (_OPERATOR,), ("bin:spark-operator", "operator-entrypoint")),
)  # fmt: skip
BY_NAME: Mapping[str, ImageSpec] = {spec.name: spec for spec in IMAGES}


def spec(name: str) -> ImageSpec:
    return BY_NAME[name]


def cluster_ref(name: str) -> str:
    """The reference a pod (or containerd's sandbox_image) uses for image ``name``."""
    return spec(name).cluster_refs[0]


def normalize(ref: str) -> str:
    """A reference as containerd and the kubelet store it (Docker's normalisation):
    ``redis:7`` → ``docker.io/library/redis:7``, ``a/b:1`` → ``docker.io/a/b:1``."""
    first, slash, _ = ref.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        ref = f"docker.io/{ref if slash else 'library/' + ref}"
    last = ref.rsplit("/", 1)[1]
    return ref if ":" in last or "@" in last else f"{ref}:latest"


@dataclass(frozen=True)
class BuiltImage:
    name: str
    #: Its tag in buildah's storage.
    ref: str
    image_id: str
    #: Its names in the node's containerd (normalised); empty: not loaded.
    cluster_refs: tuple[str, ...]
    #: False when the image was already up to date.
    built: bool
    seconds: float


def buildah() -> Buildah:
    base = paths.images_cache_dir()
    return Buildah(root=base / "storage", runroot=base / "run")


def sbom_path(image: ImageSpec) -> Path:
    """Where a project image's SBOM (CycloneDX JSON) is written, beside the image storage:
    scripts/build-images.sh copies it out of the image it built."""
    return paths.images_cache_dir() / "sbom" / f"{image.name}-{PROJECT_VERSION}.cdx.json"


def build_secrets() -> dict[str, Path]:
    """The host's CA bundle and Java truststore, for RUN steps that reach PyPI / Maven
    Central (through a TLS-intercepting proxy on some networks). Build secrets only."""
    bundle = Path(os.environ.get("LOCALKUBE_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    store = Path(os.environ.get("LOCALKUBE_JAVA_TRUSTSTORE", "/etc/ssl/certs/java/cacerts"))
    candidates = {"ca-bundle": bundle, "java-truststore": store}
    return {name: path for name, path in candidates.items() if path.is_file()}


def build_all(
    *, progress: Callable[[str], None] = print, only: Sequence[str] = ()
) -> list[BuiltImage]:
    """Build every image of ``IMAGES`` (or ``only`` these and their parents) that is not
    up to date; idempotent: an image whose inputs (context files, build args, parent ids)
    are unchanged since its last build is not touched."""
    wanted = _with_parents(only) if only else [s.name for s in IMAGES]
    tool = buildah()
    state_file = paths.images_cache_dir() / "state.json"
    state: dict[str, dict[str, str]] = (
        json.loads(state_file.read_text()) if state_file.is_file() else {}
    )
    ids = tool.image_ids()
    built: list[BuiltImage] = []
    for index, image in enumerate(s for s in IMAGES if s.name in wanted):
        start = time.monotonic()
        files = _context_files(image, progress)
        args = {arg: spec(parent).tag for arg, parent in image.build_args}
        digest = digest_files(
            files.items(),
            image.tag,
            _recipe(image),
            *(f"{k}={v}" for k, v in sorted(args.items())),
            *(f"{p}={ids.get(spec(p).tag, '')}" for p in image.parents),
        )
        known = state.get(image.name, {})
        fresh = known.get("inputs") == digest and ids.get(image.tag) == known.get("id")
        fresh = fresh and (not image.project or sbom_path(image).is_file())
        step = f"[{index + 1}/{len(wanted)}] {image.name}"
        if not fresh:
            progress(f"{step}: building {image.tag}")
            _build(tool, image, files, args)
            ids = tool.image_ids()
            state[image.name] = {"inputs": digest, "id": ids[image.tag]}
            state_file.write_text(json.dumps(state, indent=1, sort_keys=True))
        seconds = time.monotonic() - start
        progress(f"{step}: " + (f"built in {seconds:.0f} s" if not fresh else "up to date"))
        built.append(
            BuiltImage(
                image.name, image.tag, ids[image.tag], image.cluster_refs, not fresh, seconds
            )
        )
    return built


def _with_parents(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for parent in spec(name).parents:
            out += [p for p in _with_parents([parent]) if p not in out]
        if name not in out:
            out.append(name)
    return out


def _log(image: ImageSpec) -> Path:
    log = paths.images_cache_dir() / "logs" / f"{image.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    return log


def _build(
    tool: Buildah, image: ImageSpec, files: Mapping[str, Path], args: Mapping[str, str]
) -> None:
    log = _log(image)
    if image.name == "debian":
        tarball = debootstrap_rootfs(paths.images_cache_dir() / "debootstrap", log)
        try:
            tool.commit_rootfs(tarball, image.tag, labels={LABEL: DEBIAN_DESCRIPTION}, log=log)
        finally:
            tarball.unlink(missing_ok=True)
    elif image.project:
        env = {
            **os.environ,
            "BUILDER": "buildah",
            "IMAGES": image.name,
            "BUILDAH_ROOT": str(tool.root),
            "BUILDAH_RUNROOT": str(tool.runroot),
            "BUILD_ARGS": " ".join(f"{k}={v}" for k, v in sorted(args.items())),
            "SBOM_DIR": str(sbom_path(image).parent),
        }
        secrets = build_secrets()
        for name, var in (("ca-bundle", "CA_BUNDLE"), ("java-truststore", "JAVA_TRUSTSTORE")):
            env.pop(var, None)
            if name in secrets:
                env[var] = str(secrets[name])
        run_logged([str(paths.REPO / "scripts" / "build-images.sh")], log, env=env)
    else:
        context = paths.images_cache_dir() / "contexts" / image.name
        stage_context(context, files)
        run_logged(
            tool.bud_argv(dockerfile=context / "Dockerfile", context=context, tag=image.tag), log
        )


# --- build contexts: the Dockerfile's directory plus what the host resolves -----------


def _context_files(image: ImageSpec, progress: Callable[[str], None]) -> dict[str, Path]:
    """Name in the build context → file or directory on the host (what the digest covers)."""
    if image.name == "debian":
        return {}
    if image.project:
        return _project_context(image)
    directory = image.dockerfile.parent
    files = {p.name: p for p in sorted(directory.iterdir()) if p.is_file() and p.name != "pom.xml"}
    for item in image.inputs:
        if item == "jars":
            files["jars"] = inputs.maven_jars(directory / "pom.xml", image.name, progress)
        elif item == "pyspark":
            sdist = inputs.pypi_sdist("pyspark", PYSPARK_VERSION, progress)
            files[sdist.name] = sdist
        elif item.startswith("bin:"):
            files[item[4:]] = inputs.cluster_binary(item[4:], image.tag.rsplit(":", 1)[1])
        elif item == "operator-entrypoint":
            version = image.tag.rsplit(":", 1)[1]
            module = f"github.com/kubeflow/spark-operator/v2@v{version}"
            files["entrypoint.sh"] = inputs.go_module_file(module, "entrypoint.sh")
    return files


def _recipe(image: ImageSpec) -> str:
    """What else defines an image: the debootstrap recipe, the secrets a build gets."""
    if image.name == "debian":
        recipe = [DEBIAN_SUITE, DEBIAN_MIRROR, DEBIAN_PATH, dict(DEBIAN_FILES), DEBIAN_DROP]
        recipe.append(DEBIAN_DESCRIPTION)
        return json.dumps(recipe)
    return ",".join(sorted(build_secrets())) if image.project else ""


def _project_context(image: ImageSpec) -> dict[str, Path]:
    """The Dockerfile and what .dockerignore (an allow-list) sends of the repository."""
    ignore = (paths.REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    files = {"Dockerfile": image.dockerfile, ".dockerignore": paths.REPO / ".dockerignore"}
    return files | {path: paths.REPO / path for path in allowed}


# --- containerd -------------------------------------------------------------------------


def export_archive(image: BuiltImage) -> Path:
    """A docker-archive tar of ``image`` named by its first cluster reference (kept in
    the cache and reused while the image id is unchanged)."""
    archive = paths.images_cache_dir() / "archives" / f"{image.name}.tar"
    stamp = archive.with_suffix(".id")
    if archive.is_file() and stamp.is_file() and stamp.read_text() == image.image_id:
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    log = paths.images_cache_dir() / "logs" / f"{image.name}-export.log"
    buildah().push_docker_archive(image.ref, archive, image.cluster_refs[0], log)
    stamp.write_text(image.image_id)
    return archive


def ctr_images(address: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Images in containerd's k8s.io namespace: reference → (manifest digest, labels)."""
    out = subprocess.run(
        ["ctr", "--address", address, "-n", "k8s.io", "images", "ls"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return parse_ctr_images(out)


def parse_ctr_images(output: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Parse ``ctr images ls``: REF TYPE DIGEST SIZE(2 words) PLATFORMS LABELS."""
    images: dict[str, tuple[str, dict[str, str]]] = {}
    for line in output.splitlines()[1:]:
        words = line.split()
        if len(words) < 6:
            continue
        labels = dict(
            item.split("=", 1) for item in words[-1].split(",") if "=" in item and words[-1] != "-"
        )
        images[words[0]] = (words[2], labels)
    return images


def load_into_containerd(
    images: Sequence[BuiltImage], *, address: str, progress: Callable[[str], None] = print
) -> None:
    """Import every image that has cluster references into containerd (namespace
    k8s.io) under those references; an image already there with the same id is skipped."""
    present = ctr_images(address)
    ctr = ["ctr", "--address", address, "-n", "k8s.io", "images"]
    for image in images:
        if not image.cluster_refs:
            continue
        primary, *others = image.cluster_refs
        digest, labels = present.get(primary, ("", {}))
        if labels.get(ID_LABEL) == image.image_id and all(
            present.get(ref, ("", {}))[0] == digest for ref in others
        ):
            progress(f"{image.name}: already in containerd")
            continue
        start = time.monotonic()
        archive = export_archive(image)
        log = paths.images_cache_dir() / "logs" / f"{image.name}-import.log"
        run_logged([*ctr, "import", str(archive)], log)
        run_logged([*ctr, "label", primary, f"{ID_LABEL}={image.image_id}"], log)
        for ref in others:
            run_logged([*ctr, "tag", "--force", primary, ref], log)
        progress(f"{image.name}: imported as {', '.join(image.cluster_refs)} "
                 f"in {time.monotonic() - start:.0f} s")  # fmt: skip


# --- CLI --------------------------------------------------------------------------------

cli = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, add_completion=False)


@cli.command()
def build(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Just these images (and their parents).")
    ] = None,
) -> None:
    """Build every image that is not up to date (a warm run builds nothing)."""
    start = time.monotonic()
    try:
        images = build_all(only=only or ())
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(images)} images ready in {time.monotonic() - start:.0f} s "
               f"({sum(i.built for i in images)} built)")  # fmt: skip


@cli.command()
def load(
    address: Annotated[str, typer.Option(help="containerd's socket.")],
) -> None:
    """Build (if needed) and import the cluster's images into containerd at ADDRESS."""
    try:
        load_into_containerd(build_all(), address=address)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@cli.command("list")
def list_images() -> None:
    """The table: local tag, image id if built, names inside the cluster."""
    ids = buildah().image_ids() if paths.images_cache_dir().joinpath("storage").is_dir() else {}
    for image in IMAGES:
        image_id = ids.get(image.tag, "-")[:12]
        refs = ", ".join(image.cluster_refs) or "(build only)"
        typer.echo(f"{image.name:<23} {image.tag:<64} {image_id:<12}  {refs}")


if __name__ == "__main__":
    cli()
