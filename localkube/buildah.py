"""buildah as localkube uses it: its own storage, chroot isolation, the layer cache.

Also the Debian base (debootstrap → ``buildah from scratch`` → commit) and the content
digests that decide whether an image needs building at all. Used by
:mod:`localkube.images`; nothing here knows which images exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: ``buildah bud`` flags of every build: chroot isolation (k8s-local.md §6: crun refuses
#: hybrid cgroups here), RUN steps on the host network (the registries), the layer cache,
#: and base images from local storage only (there is no registry to pull from).
BUD_FLAGS = ("--isolation", "chroot", "--network", "host", "--layers", "--pull=never")

#: The Debian base: what debootstrap installs and where from.
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
#: Files written into the debootstrapped tree before it is committed: apt sources that
#: derived builds use, no services started by package scripts during builds (as Docker's
#: Debian images did), no downloaded .debs or indexes kept in layers.
DEBIAN_FILES: Mapping[str, str] = {
    "etc/apt/sources.list": (
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
        f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
        f"deb {DEBIAN_SECURITY_MIRROR} {DEBIAN_SUITE}-security main\n"
    ),
    "usr/sbin/policy-rc.d": (
        "#!/bin/sh\n# localkube: no service starts inside an image build.\nexit 101\n"
    ),
    "etc/apt/apt.conf.d/docker-clean": (
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb'
        ' /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb'
        ' /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    ),
    "etc/apt/apt.conf.d/docker-no-languages": 'Acquire::Languages "none";\n',
}
#: Left by debootstrap but owned by the container runtime (or the host): not in the image.
DEBIAN_DROP = ("etc/resolv.conf", "etc/hostname", "etc/machine-id", "var/lib/apt/lists")
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BuildError(RuntimeError):
    """A build step failed; the message names the step and the end of its log."""


def run_logged(argv: Sequence[str], log: Path, *, env: Mapping[str, str] | None = None) -> None:
    """Run ``argv`` with its output appended to ``log``; raise BuildError with the log's end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(
            list(argv), stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise BuildError(
            f"{' '.join(argv[:4])} ... failed (exit {proc.returncode}); end of {log}:\n"
            + "\n".join(tail)
        )


@dataclass(frozen=True)
class Buildah:
    """buildah with its storage in ``root`` (images, layers) and ``runroot`` (locks)."""

    root: Path
    runroot: Path

    def argv(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.root), "--runroot", str(self.runroot), *args]

    def output(self, *args: str) -> str:
        proc = subprocess.run(self.argv(*args), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise BuildError(f"buildah {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def image_ids(self) -> dict[str, str]:
        """Every tagged image in the storage: reference → full image id (one call)."""
        images = json.loads(self.output("images", "--json", "--no-trunc") or "[]")
        return {
            name: str(image["id"]).removeprefix("sha256:")
            for image in images
            for name in image.get("names") or ()
        }

    def inspect(self, image: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.output("inspect", "--type", "image", image))
        return data

    def bud_argv(
        self,
        *,
        dockerfile: Path,
        context: Path,
        tag: str,
        build_args: Mapping[str, str] = {},
        secrets: Mapping[str, Path] = {},
    ) -> list[str]:
        """The ``buildah bud`` command line of one image (pure: nothing runs)."""
        argv = self.argv("bud", *BUD_FLAGS, "-f", str(dockerfile), "-t", tag)
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        for name, path in sorted(secrets.items()):
            argv += ["--secret", f"id={name},src={path}"]
        return [*argv, str(context)]

    def push_docker_archive(self, image: str, archive: Path, ref: str, log: Path) -> None:
        """Write ``image`` to a docker-archive tar whose manifest names it ``ref``."""
        archive.unlink(missing_ok=True)
        run_logged(self.argv("push", "--quiet", image, f"docker-archive:{archive}:{ref}"), log)

    def commit_rootfs(
        self, rootfs_tar: Path, tag: str, *, labels: Mapping[str, str], log: Path
    ) -> None:
        """A one-layer image from a root filesystem tarball (``buildah from scratch``)."""
        container = self.output("from", "--quiet", "scratch").strip()
        try:
            run_logged(self.argv("add", "--quiet", container, str(rootfs_tar), "/"), log)
            config = ["config", "--env", f"PATH={DEBIAN_PATH}", "--cmd", "bash"]
            for key, value in labels.items():
                config += ["--label", f"{key}={value}"]
            run_logged(self.argv(*config, container), log)
            run_logged(self.argv("commit", "--quiet", "--rm", container, tag), log)
        except BaseException:
            subprocess.run(self.argv("rm", container), capture_output=True, check=False)
            raise


def debootstrap_rootfs(workdir: Path, log: Path) -> Path:
    """``debootstrap --variant=minbase`` into ``workdir``/rootfs, tidied; returns a tarball."""
    if os.geteuid() != 0:
        raise BuildError("debootstrap needs root (it creates device nodes and chroots)")
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is missing: run scripts/setup-cluster-tools.sh")
    rootfs = workdir / "rootfs"
    _remove_tree(rootfs)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run_logged(
            ["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR], log
        )
        for name, text in DEBIAN_FILES.items():
            path = rootfs / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(0o755 if name.startswith("usr/sbin/") else 0o644)
        for name in DEBIAN_DROP:
            _remove_tree(rootfs / name)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
        for cache in (rootfs / "var/cache/apt").glob("*.bin"):
            cache.unlink()
        tarball = workdir / "rootfs.tar"
        excludes = [f"--exclude=./{d}/*" for d in ("dev", "proc", "sys", "run", "tmp")]
        run_logged(
            ["tar", "-C", str(rootfs), "--numeric-owner", *excludes, "-cf", str(tarball), "."],
            log,
        )
        return tarball
    finally:
        _remove_tree(rootfs)


def _remove_tree(path: Path) -> None:
    """rm -rf, refusing to descend into anything still mounted under ``path``."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
        return
    prefix = str(path.resolve()) + "/"
    for mountpoint in sorted(_mountpoints(), reverse=True):
        if mountpoint.startswith(prefix):
            subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False)
    if any(m.startswith(prefix) for m in _mountpoints()):
        raise BuildError(f"{path}: something is still mounted below it; not deleting")
    shutil.rmtree(path)


def _mountpoints() -> list[str]:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return [line.split()[1].replace("\\040", " ") for line in mounts]


# --- content digests: what decides whether an image is built again ---------------------


def digest_files(paths: Iterable[tuple[str, Path]], *extra: str) -> str:
    """sha256 over (name, content) of every file under the given paths, plus ``extra``.

    Directories are walked in sorted order; ``__pycache__``, ``*.pyc`` and ``*.egg-info``
    are skipped (never part of a build context). Modes count: an executable bit changes
    what an image holds.
    """
    digest = hashlib.sha256()
    for item in extra:
        digest.update(item.encode() + b"\0")
    for name, path in sorted(paths):
        for rel, file in _walk(name, path):
            digest.update(f"{rel}\0{file.stat().st_mode & 0o111:o}\0".encode())
            with file.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def _walk(name: str, path: Path) -> Iterable[tuple[str, Path]]:
    if path.is_file():
        yield name, path
        return
    if not path.is_dir():
        raise BuildError(f"{path}: missing (needed for the image build)")
    for child in sorted(path.iterdir()):
        if (
            child.name == "__pycache__"
            or child.suffix == ".pyc"
            or child.name.endswith(".egg-info")
        ):
            continue
        yield from _walk(f"{name}/{child.name}", child)


def stage_context(context: Path, files: Mapping[str, Path]) -> None:
    """Make ``context`` hold exactly ``files`` (name in the context → source), hard-linked
    when the source is on the same file system (copied otherwise)."""
    _remove_tree(context)
    context.mkdir(parents=True)
    for name, source in files.items():
        for rel, file in _walk(name, source):
            target = context / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(file, target)
            except OSError:
                shutil.copy2(file, target)
