"""A CycloneDX SBOM (JSON) of the image this runs in, written during its build.

Run from a throwaway virtualenv holding cyclonedx-bom (requirements/sbom.txt, installed
with --require-hashes) in a build stage whose base is the finished image, so it sees
exactly what the image holds:

- the Python packages of the project's virtualenv (``cyclonedx-py environment``);
- the distribution's packages (``dpkg-query``), and the distribution itself;
- with ``--jars DIR``: every jar's Maven coordinates (its ``pom.properties``);
- with ``--spark-home DIR``: the PySpark that Spark's distribution ships.

    python sbom.py --image NAME --version V --python /opt/airlines/venv/bin/python -o FILE
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL


def python_environment(python: str) -> dict[str, object]:
    """cyclonedx-py's SBOM of the virtualenv whose interpreter is ``python``."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("cyclonedx-py")), "environment", "--sv", "1.6",
         "--of", "JSON", "--output-reproducible", "--no-validate", "-o", "-", python],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    doc: dict[str, object] = json.loads(out)
    return doc


def os_release() -> dict[str, str]:
    fields = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        fields[key] = value.strip('"')
    return fields


def debian_packages(release: dict[str, str]) -> list[Component]:
    """Every installed dpkg package, as ``pkg:deb`` components."""
    distro = release.get("ID", "debian")
    qualifier = f"{distro}-{release.get('VERSION_ID', '')}"
    out = subprocess.run(
        ["dpkg-query", "-W", "-f",
         "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\n"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    components = []
    for line in out.splitlines():
        status, name, version, arch, source = line.split("\t")
        if status != "installed":
            continue
        qualifiers = {"arch": arch, "distro": qualifier}
        if source and source != name:
            qualifiers["upstream"] = source
        purl = PackageURL("deb", distro, name, version, qualifiers)
        components.append(
            Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
                      bom_ref=purl.to_string())
        )  # fmt: skip
    return components


def maven_jars(directory: Path) -> list[Component]:
    """Each jar's Maven coordinates, from the ``pom.properties`` Maven writes into it."""
    found: dict[str, Component] = {}
    for jar in sorted(directory.glob("*.jar")):
        with zipfile.ZipFile(jar) as archive:
            names = [
                n
                for n in archive.namelist()
                if re.fullmatch(r"META-INF/maven/[^/]+/[^/]+/pom\.properties", n)
            ]
            props = [_properties(archive.read(n).decode(errors="replace")) for n in names]
        own = [p for p in props if jar.name.startswith(f"{p.get('artifactId')}-")]
        for p in own or props[:1]:
            if not {"groupId", "artifactId", "version"} <= p.keys():
                continue
            purl = PackageURL("maven", p["groupId"], p["artifactId"], p["version"])
            found[purl.to_string()] = Component(
                name=p["artifactId"], group=p["groupId"], version=p["version"],
                type=ComponentType.LIBRARY, purl=purl, bom_ref=purl.to_string(),
            )  # fmt: skip
        if not props:  # not built by Maven (kafka-clients): its file name says what it is
            match = re.fullmatch(r"(.+?)-(\d[\w.+-]*)\.jar", jar.name)
            name, version = (match[1], match[2]) if match else (jar.stem, None)
            found[jar.name] = Component(
                name=name, version=version, type=ComponentType.LIBRARY, bom_ref=jar.name
            )
    return list(found.values())


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.startswith("#")}


def pyspark(spark_home: Path) -> list[Component]:
    """The PySpark of Spark's distribution (on PYTHONPATH, not installed by pip)."""
    version_py = spark_home / "python" / "pyspark" / "version.py"
    match = re.search(r"__version__[^=]*=\s*[\"']([^\"']+)", version_py.read_text())
    if match is None:
        raise SystemExit(f"{version_py}: no __version__")
    purl = PackageURL("pypi", None, "pyspark", match[1])
    return [
        Component(name="pyspark", version=match[1], type=ComponentType.LIBRARY, purl=purl,
                  bom_ref=purl.to_string())
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", required=True, help="the image's name")
    parser.add_argument("--version", required=True, help="the image's version (its tag)")
    parser.add_argument("--python", required=True, help="the project virtualenv's python")
    parser.add_argument("--jars", type=Path, help="a directory of jars to list")
    parser.add_argument("--spark-home", type=Path, help="Spark's distribution")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    doc = python_environment(args.python)
    release = os_release()
    extra = debian_packages(release)
    extra.append(
        Component(name=release.get("ID", "linux"), version=release.get("VERSION_ID"),
                  type=ComponentType.OPERATING_SYSTEM, bom_ref="os",
                  description=release.get("PRETTY_NAME"))
    )  # fmt: skip
    if args.jars:
        extra += maven_jars(args.jars)
    if args.spark_home:
        extra += pyspark(args.spark_home)
    rendered = json.loads(JsonV1Dot6(Bom(components=extra)).output_as_string())
    components = doc.setdefault("components", [])
    assert isinstance(components, list)
    known = {c.get("purl") for c in components if isinstance(c, dict)} - {None}
    components += [c for c in rendered.get("components", []) if c.get("purl") not in known]
    metadata = doc.setdefault("metadata", {})
    assert isinstance(metadata, dict)
    metadata["component"] = {
        "type": "container",
        "bom-ref": "image",
        "name": args.image,
        "version": args.version,
    }
    text = json.dumps(doc, indent=1, sort_keys=True)
    # Validated once, here: cyclonedx-py's own pass is skipped (it is the slow part).
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        raise SystemExit(f"the SBOM is not valid CycloneDX 1.6: {error}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(f"{args.output}: {len(components)} components")


if __name__ == "__main__":
    main()
