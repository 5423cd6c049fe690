"""The images the e2e cluster runs: built for real with buildah, each stand-in honouring
the contract the chart uses of the official image, and no image layer holding the host's
CA bundle (it reaches RUN steps as a build secret only) or anything of the tests.

Needs root, buildah and debootstrap (``make e2e`` has them); ``build_all`` is idempotent,
so after ``make e2e-up`` this only checks.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e import layer_scan

from localkube import images

pytestmark = pytest.mark.e2e

HOST_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_TRUSTSTORE = Path("/etc/ssl/certs/java/cacerts")


@pytest.fixture(scope="module")
def built() -> dict[str, images.BuiltImage]:
    return {image.name: image for image in images.build_all(progress=lambda _: None)}


def test_every_image_is_built_and_says_what_it_is(built: dict[str, images.BuiltImage]) -> None:
    assert set(built) == {spec.name for spec in images.IMAGES}
    tool = images.buildah()
    for spec in images.IMAGES:
        config = tool.inspect(spec.tag)
        labels = config["OCIv1"]["config"].get("Labels") or {}  # type: ignore[index]
        description = labels.get(images.LABEL, "")
        if spec.project:  # their own Dockerfiles' labels (spark-job sets none: its base's)
            continue
        if spec.name == "debian":
            assert description == images.DEBIAN_DESCRIPTION
        else:
            assert f"localkube stand-in for {spec.stands_in_for.split(':')[0]}" in description


# --- the stand-ins' contracts (run inside the images, no network) ------------------------


def _run(image: str, script: str, *, env: dict[str, str] | None = None) -> str:
    """Run ``bash -c script`` (``sh`` where there is no bash) in a working container of
    ``image`` with chroot isolation, as the image's user; return stdout."""
    tool = images.buildah()
    container = tool.output("from", "--quiet", "--pull=never", image).strip()
    try:
        flags = ["--isolation", "chroot"]
        for key, value in (env or {}).items():
            flags += ["--env", f"{key}={value}"]
        proc = subprocess.run(
            tool.argv("run", *flags, container, "--", "sh", "-c", script),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, f"{image}: {script}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout
    finally:
        subprocess.run(tool.argv("rm", container), capture_output=True, check=False)


def test_spark_standin_honours_the_official_layout(built: dict[str, images.BuiltImage]) -> None:
    out = _run(
        built["spark"].ref,
        "id -u; id -g; echo $SPARK_HOME $JAVA_HOME; pwd; stat -c %u /opt/spark/work-dir; "
        "test -x /opt/entrypoint.sh && test -x /usr/bin/tini && echo tini; "
        "$JAVA_HOME/bin/java -version 2>&1 | head -1; "
        "ls /opt/spark/python/lib; test -f /opt/spark/jars/spark-kubernetes_2.13-4.2.0.jar; "
        "/opt/entrypoint.sh echo pass-through",
    )
    lines = out.splitlines()
    assert lines[:6] == [
        "185",
        "185",
        "/opt/spark /opt/java/openjdk",
        "/opt/spark/work-dir",
        "185",
        "tini",
    ]
    assert re.match(r'openjdk version "17\.', lines[6])
    assert lines[7:9] == ["py4j-0.10.9.9-src.zip", "pyspark.zip"]
    assert lines[-1] == "pass-through"


def test_spark_job_runs_pyspark_from_the_distribution(built: dict[str, images.BuiltImage]) -> None:
    lib = "/opt/spark/python/lib"
    out = _run(
        built["spark-job"].ref,
        f"PYTHONPATH={lib}/pyspark.zip:{lib}/py4j-0.10.9.9-src.zip python -c "
        "'import sys, pyspark, airlines; print(sys.version_info[:2], pyspark.__version__)'; "
        "airlines --help >/dev/null && echo cli; ls /opt/spark/jars | grep spark-sql-kafka; id -u",
    )
    assert out.splitlines() == [
        "(3, 11) 4.2.0",
        "cli",
        "spark-sql-kafka-0-10_2.13-4.2.0.jar",
        "185",
    ]


# --- the project images' SBOMs ------------------------------------------------------------


def _sbom(name: str) -> dict[str, dict[str, str]]:
    """The SBOM written beside a project image: its purl without the version (its name
    when it has none) -> component."""
    path = images.sbom_path(images.spec(name))
    doc = json.loads(path.read_text())
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"]["name"] == f"airlines-analytics/{name}"
    assert doc["metadata"]["component"]["version"] == images.PROJECT_VERSION
    out = {}
    for component in doc["components"]:
        purl = component.get("purl", "")
        key = purl.split("@")[0] if purl else component["name"]
        if key.startswith("pkg:pypi/"):
            # PEP 503: a purl keeps a name's dots (ruamel.yaml), the lock normalizes them.
            key = "pkg:pypi/" + re.sub(r"[-_.]+", "-", key.removeprefix("pkg:pypi/")).lower()
        out[key] = component
    return out


@pytest.mark.parametrize("name", ["producer", "spark-job"])
def test_each_project_image_has_an_sbom_of_what_it_holds(
    built: dict[str, images.BuiltImage], name: str
) -> None:
    """CycloneDX JSON beside the image: every package of the runtime lock at its locked
    version (the image installed exactly the lock), the project, and the Debian packages."""
    from airlines import locks

    components = _sbom(name)
    for package, version in locks.pins(locks.LOCKS[0].path.read_text()).items():
        assert components[f"pkg:pypi/{package}"]["version"] == version, (name, package)
    assert components["airlines-analytics"]["version"] == images.PROJECT_VERSION
    debs = {c["name"] for c in components.values() if c.get("purl", "").startswith("pkg:deb/")}
    assert {"libc6", "libssl3"} <= debs, name
    assert any(c["type"] == "operating-system" for c in components.values())
    same = _run(built[name].ref, "cat /opt/airlines/sbom.cdx.json")
    assert json.loads(same) == json.loads(images.sbom_path(images.spec(name)).read_text())


def test_the_job_images_sbom_names_spark_and_its_kafka_connector(
    built: dict[str, images.BuiltImage],
) -> None:
    components = _sbom("spark-job")
    assert components["pkg:pypi/pyspark"]["version"] == "4.2.0"
    assert components["pkg:pypi/confluent-kafka"]["version"] == "2.16.1"
    for artifact in ("spark-core_2.13", "spark-sql-kafka-0-10_2.13"):
        assert components[f"pkg:maven/org.apache.spark/{artifact}"]["version"] == "4.2.0"
    assert "kafka-clients-" in str([c.get("bom-ref") for c in components.values()])


def test_zookeeper_standin(built: dict[str, images.BuiltImage]) -> None:
    env = {
        "ZOOCFGDIR": "/tmp/conf",
        "ZOO_LOG_DIR": "/tmp/logs",
        "SERVER_JVMFLAGS": "-Xmx64m -Xms64m",
    }
    out = _run(
        built["zookeeper"].ref,
        "id -u; command -v zkServer.sh; zkServer.sh print-cmd; zkServer.sh version; "
        "stat -c %u /data; ls /conf",
        env=env,
    )
    uid, path, cmd, version, data_owner, conf = out.splitlines()[:6]
    assert (uid, data_owner) == ("1000", "1000")
    assert path == "/apache-zookeeper-3.9.4-bin/bin/zkServer.sh"
    assert "-Dzookeeper.log.dir=/tmp/logs" in cmd
    assert "-cp /tmp/conf:" in cmd
    assert cmd.index("-Xmx1000m") < cmd.index("-Xmx64m"), "SERVER_JVMFLAGS wins"
    assert cmd.endswith("org.apache.zookeeper.server.quorum.QuorumPeerMain /tmp/conf/zoo.cfg")
    assert version.startswith("Apache ZooKeeper, version 3.9.4")
    assert conf.split() == ["logback.xml", "zoo.cfg"] or "logback.xml" in out


def test_kafka_standin(built: dict[str, images.BuiltImage]) -> None:
    out = _run(
        built["kafka"].ref,
        "id -u; test -x /opt/kafka/bin/kafka-server-start.sh && echo start; "
        "java -cp '/opt/kafka/libs/*' kafka.Kafka --version 2>/dev/null | head -1; "
        "/opt/kafka/bin/kafka-configs.sh --help 2>&1 | grep -c -- --add-config-file; "
        "ls /opt/kafka/libs | grep -E '^(kafka_2.13|reload4j|slf4j-reload4j)-'",
    )
    lines = out.splitlines()
    assert lines[:2] == ["1000", "start"]
    assert lines[2].startswith("3.9.1")
    # kafka-configs.sh (ConfigCommand), which the chart's start.sh runs
    assert int(lines[3]) >= 1
    assert lines[4:] == ["kafka_2.13-3.9.1.jar", "reload4j-1.2.25.jar", "slf4j-reload4j-1.7.36.jar"]


def test_redis_python_maven_and_operator_standins(built: dict[str, images.BuiltImage]) -> None:
    redis = _run(
        built["redis"].ref,
        "id -u; id -g; stat -c %u /data; redis-server --version; command -v redis-cli; "
        "redis-cli --help 2>&1 | grep -q -- --cacert && echo tls",
    )
    uid, gid, owner, version, cli, tls = redis.splitlines()
    assert (uid, gid, owner, cli, tls) == ("999", "999", "999", "/usr/local/bin/redis-cli", "tls")
    # Debian trixie's 8.0.2 (its security patches: CVE-2025-49844 and others).
    assert "v=8.0.2 " in version
    python = _run(
        built["python"].ref,
        "python --version; python -m venv /tmp/v && echo venv; command -v groupadd useradd",
    )
    assert python.splitlines()[:2] == ["Python 3.11.2", "venv"]
    maven = _run(built["maven"].ref, "mvn -v | head -1; javac -version")
    assert "Apache Maven 3." in maven
    assert "javac 17." in maven
    operator = _run(
        built["spark-operator"].ref,
        "id -u; stat -c %u /etc/k8s-webhook-server/serving-certs /home/spark; "
        "test -x /usr/bin/entrypoint.sh && test -x /usr/bin/spark-operator && echo ok",
    )
    assert operator.splitlines() == ["185", "185", "185", "ok"]


# --- no image layer holds the host's CA bundle, nor test support -------------------------


def _pem_bodies(text: str) -> list[str]:
    return [
        "".join(body.split())
        for body in re.findall(
            r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.DOTALL
        )
    ]


def _needles(built: dict[str, images.BuiltImage]) -> dict[bytes, str]:
    """Byte strings that appear only where a certificate the host added to its trust (the
    intercepting proxy's CA: in the bundle, but neither a Debian-shipped certificate on the
    host nor one in the images' own bundle) was written: its PEM lines and its DER."""
    shipped: set[str] = set()
    for path in Path("/usr/share/ca-certificates").rglob("*.crt"):
        shipped.update(_pem_bodies(path.read_text(errors="replace")))
    shipped.update(_pem_bodies(_run(built["python"].ref, "cat /etc/ssl/certs/ca-certificates.crt")))
    needles: dict[bytes, str] = {}
    for index, body in enumerate(_pem_bodies(HOST_BUNDLE.read_text())):
        if body in shipped:
            continue
        der = base64.b64decode(body)
        needles[der[4:68]] = f"host-added certificate #{index} (DER)"
        needles[body[64:128].encode()] = f"host-added certificate #{index} (PEM)"
    return needles


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner itself, on a docker-archive made here: a needle split across its read
    chunks, a file equal to a forbidden one, a secret left under /run/secrets, a needle in
    a config, the test kit and a file of the project's tests/ tree (another project's
    tests are no finding); a layer already seen in another archive is not read again."""
    needle = b"N" * 40
    bundle = b"the host bundle"
    big = b"x" * ((1 << 20) - 10) + needle + b"y" * 100  # the needle straddles 1 MiB
    site = "opt/airlines/venv/lib/python3.11/site-packages"
    layer = _tar(
        {
            "etc/big": big,
            "etc/copy.crt": bundle,
            "run/secrets/ca": b"-",
            f"{site}/airlines_testkit/oracle.py": b"",
            "opt/airlines/tests/unit/test_contract.py": b"",
            f"{site}/numpy/tests/test_numeric.py": b"",
            f"{site}/airlines/contract/event.py": b"",
        }
    )
    archive = tmp_path / "image.tar"
    archive.write_bytes(
        _tar({"abc.tar": layer, "cfg.json": b'{"history": "' + needle + b'"}', "other.tar": b""})
    )
    test_files = layer_scan.project_test_files()
    assert "tests/unit/test_contract.py" in test_files
    forbidden = layer_scan.Forbidden(
        {needle: "planted"}, {len(bundle): {hashlib.sha256(bundle).hexdigest()}}, test_files
    )
    found = layer_scan.scan_archive(archive, forbidden, seen={"other.tar"})
    assert sorted(found) == [
        "image.tar:abc.tar: etc/big: planted",
        "image.tar:abc.tar: etc/copy.crt is the host's CA bundle or truststore",
        "image.tar:abc.tar: opt/airlines/tests/unit/test_contract.py (the project's tests/ tree)",
        f"image.tar:abc.tar: {site}/airlines_testkit/oracle.py (the test kit)",
        "image.tar:abc.tar: run/secrets/ca (a secret left behind)",
        "image.tar:cfg.json: planted",
    ]


def test_no_layer_of_any_image_holds_the_host_ca_or_test_support(
    built: dict[str, images.BuiltImage], tmp_path: Path
) -> None:
    """Every layer (and config, with its history) of every image searched for the proxy's
    certificate, for the host's bundle files and for test support (the test kit, the
    project's tests/ tree): the docker-archives the node's containerd imports, as they are,
    and the images no pod runs (bases, build stages) pushed uncompressed into one OCI
    layout."""
    files: dict[int, set[str]] = {}
    for path in (HOST_BUNDLE, HOST_TRUSTSTORE):
        if path.is_file():
            files.setdefault(path.stat().st_size, set()).add(
                hashlib.sha256(path.read_bytes()).hexdigest()
            )
    forbidden = layer_scan.Forbidden(_needles(built), files, layer_scan.project_test_files())
    found: list[str] = []
    seen: set[str] = set()
    imported = [image for image in built.values() if image.cluster_refs]
    for image in imported:
        found += layer_scan.scan_archive(images.export_archive(image), forbidden, seen)
    assert len(seen) >= len(imported)
    layout = tmp_path / "oci"
    tool = images.buildah()
    others = [image for image in built.values() if not image.cluster_refs]
    for image in others:
        # Uncompressed: the scan reads every byte anyway, and gzip would be most of its CPU.
        tool.output(
            "push", "--quiet", "--disable-compression", image.ref, f"oci:{layout}:{image.name}"
        )
    blobs = sorted((layout / "blobs" / "sha256").iterdir())
    assert len(blobs) > 2 * len(others)  # a manifest, a config and layers each
    found += [hit for blob in blobs for hit in layer_scan.scan_oci_blob(blob, forbidden)]
    assert not found, "\n".join(found)
    for image in built.values():
        config = tool.inspect(image.ref)
        env = " ".join(config["OCIv1"]["config"].get("Env") or [])  # type: ignore[index]
        assert "/run/secrets" not in env, image.name
        assert "PIP_CERT" not in env, image.name
        history = json.dumps(config["OCIv1"].get("history") or [])  # type: ignore[attr-defined]
        assert "BEGIN CERTIFICATE" not in history


# --- loading into containerd: names, labels, and a second load that does nothing --------


@pytest.fixture
def containerd(tmp_path: Path) -> Iterator[str]:
    """A throwaway containerd (no CRI), its state under tmp_path; stopped afterwards."""
    base = Path("/tmp") / f"lk-images-{os.getpid()}"
    base.mkdir()
    socket = base / "containerd.sock"
    config = base / "config.toml"
    config.write_text(
        f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{socket}"\n[ttrpc]\n  address = "{socket}.ttrpc"\n'
    )
    with (tmp_path / "containerd.log").open("wb") as out:
        proc = subprocess.Popen(
            ["containerd", "--config", str(config)], stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            log = (tmp_path / "containerd.log").read_text()
            assert proc.poll() is None, log
            assert time.monotonic() < deadline, log
            time.sleep(0.1)
        yield str(socket)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        subprocess.run(["umount", "-R", str(base / "state")], capture_output=True, check=False)
        shutil.rmtree(base)


def test_load_names_images_as_pods_do_and_skips_what_is_there(
    built: dict[str, images.BuiltImage], containerd: str, tmp_path: Path
) -> None:
    subset = [built[name] for name in ("pause", "coredns", "redis")]
    messages: list[str] = []
    images.load_into_containerd(subset, address=containerd, progress=messages.append)
    assert all("imported as" in m for m in messages), messages
    present = images.ctr_images(containerd)
    for image in subset:
        for ref in image.cluster_refs:
            assert ref in present, ref
        assert present[image.cluster_refs[0]][1][images.ID_LABEL] == image.image_id
    assert "docker.io/library/redis:8.0.2" in present
    # CoreDNS binds port 53 as a non-root user through a file capability: it survives export
    # and import.
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    ctr = ["ctr", "--address", containerd, "-n", "k8s.io", "images"]
    subprocess.run(
        [*ctr, "mount", built["coredns"].cluster_refs[0], str(mnt)], check=True, capture_output=True
    )
    try:
        assert os.getxattr(mnt / "coredns", "security.capability")
    finally:
        subprocess.run([*ctr, "unmount", str(mnt)], check=True, capture_output=True)
    messages.clear()
    images.load_into_containerd(subset, address=containerd, progress=messages.append)
    assert all("already in containerd" in m for m in messages), messages
    assert images.ctr_images(containerd) == present  # nothing imported again
