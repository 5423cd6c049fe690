#!/usr/bin/env bash
# Builds redis-server and redis-cli for the local stack from Debian's source package into
# $AIRLINES_CACHE/redis/bin (the stack looks there before PATH), with TLS built in and
# Debian's patches (its CVE fixes) applied. Debian stable's redis-server (7.0) predates
# fixes the stack needs, and the release the charts pin is 8.0, so the local stack runs the
# same major. Everything is checked against the pinned .dsc's SHA-256, and the .dsc's own
# file list against the tarballs. A rerun with the stamp current does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's source package (unstable carries the newest 8.0 release with its CVE patches).
REDIS_DEB_VERSION=8.0.6-3
REDIS_UPSTREAM=${REDIS_DEB_VERSION%-*}
REDIS_DSC_SHA256=1e199379e5098fbc492b7756fa4c829c8938d7d4c467add6266c4abd911ba0c9
POOL=http://deb.debian.org/debian/pool/main/r/redis

CACHE="${AIRLINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airlines-analytics}"
OUT="$CACHE/redis"
SRC="$CACHE/redis-src"
STAMP="$OUT/.version"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
need() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

mkdir -p "$SRC"
# One build at a time (several checkouts share the cache).
exec 9>"$SRC/.lock"
flock 9
want="$REDIS_DEB_VERSION $REDIS_DSC_SHA256"
if [ -x "$OUT/bin/redis-server" ] && [ -x "$OUT/bin/redis-cli" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  step "redis-server present: $("$OUT/bin/redis-server" --version | awk '{print $3}') in $OUT/bin"
  exit 0
fi

# Build dependencies (Redis's own deps — jemalloc, Lua, hiredis — come bundled in its tarball).
missing=()
for pkg in build-essential pkg-config libssl-dev curl xz-utils patch; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing build dependencies for redis: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends ${missing[*]}" \
    || need "building redis needs ${missing[*]}: run 'sudo apt-get install ${missing[*]}'"
fi

fetch() { # $1 = file name in the pool; $2 = expected sha256
  local file="$1" sum="$2"
  if ! echo "$sum  $SRC/$file" | sha256sum -c --status 2>/dev/null; then
    step "downloading $file"
    # The pool's URLs escape '+' (as apt does).
    curl -fsSL --retry 3 -o "$SRC/$file.part" "$POOL/${file//+/%2b}" || need "could not download $POOL/$file"
    mv "$SRC/$file.part" "$SRC/$file"
  fi
  echo "$sum  $SRC/$file" | sha256sum -c --status || need "checksum mismatch for $SRC/$file (want $sum)"
}

dsc="redis_${REDIS_DEB_VERSION}.dsc"
fetch "$dsc" "$REDIS_DSC_SHA256"
# The .dsc lists each tarball's SHA-256 (Checksums-Sha256: "<sha256> <size> <name>").
sums=$(awk '/^Checksums-Sha256:/ {on=1; next} /^[^ ]/ {on=0} on {print $1, $3}' "$SRC/$dsc")
orig="redis_${REDIS_UPSTREAM}.orig.tar.gz"
debian="redis_${REDIS_DEB_VERSION}.debian.tar.xz"
for file in "$orig" "$debian"; do
  sum=$(echo "$sums" | awk -v f="$file" '$2 == f {print $1}')
  [ -n "$sum" ] || need "$dsc does not list $file"
  fetch "$file" "$sum"
done

step "building redis $REDIS_DEB_VERSION with TLS (a few minutes once)"
build="$SRC/build"
rm -rf "$build"
mkdir -p "$build"
tar -xzf "$SRC/$orig" -C "$build" --strip-components=1
tar -xJf "$SRC/$debian" -C "$build"
# Debian's patches in series order, less its packaging defaults (paths of a system service)
# and its switch to the system jemalloc (the bundled one is used here).
while read -r patch _; do
  case "$patch" in ''|'#'*|debian-packaging/*|*USE_SYSTEM_JEMALLOC*) continue ;; esac
  patch -d "$build" -p1 --quiet --forward < "$build/debian/patches/$patch" || need "Debian patch $patch does not apply"
done < "$build/debian/patches/series"
start=$(date +%s)
make -C "$build" -j"$(nproc)" BUILD_TLS=yes >"$SRC/build.log" 2>&1 \
  || { tail -30 "$SRC/build.log" >&2; need "building redis failed (full log: $SRC/build.log)"; }
step "built redis in $(( $(date +%s) - start ))s"

mkdir -p "$OUT/bin"
install -m 0755 "$build/src/redis-server" "$build/src/redis-cli" "$OUT/bin/"
# redis-check-aof/-rdb are redis-server itself under another name, as upstream installs them.
ln -sf redis-server "$OUT/bin/redis-check-aof"
ln -sf redis-server "$OUT/bin/redis-check-rdb"
echo "$want" > "$STAMP"
rm -rf "$build"
step "redis-server $("$OUT/bin/redis-server" --version | awk '{print $3}') installed in $OUT/bin"
