#!/usr/bin/env bash
# Idempotent setup for a fresh Debian machine: Python venv + package, redis-server,
# JVM jars (Kafka broker + ZooKeeper, Spark's Kafka connector, the job's own functions)
# and the chart tools.
# A second run downloads nothing: every step is skipped when its stamp is current.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${AIRLINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airlines-analytics}"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$CACHE"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
need() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

# --- prerequisites that cannot be installed from a registry by this script ---------
command -v "$PYTHON" >/dev/null || need "Python 3.11+ is required: apt-get install python3 python3-venv"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || need "Python >= 3.11 is required (found $("$PYTHON" --version))"
command -v java >/dev/null || need "Java 17+ is required for Kafka, ZooKeeper and Spark: apt-get install openjdk-17-jre-headless"
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${java_major%%.*}" -ge 17 ] || need "Java 17+ is required (found $java_major): apt-get install openjdk-17-jre-headless"
command -v mvn >/dev/null || need "Maven is required to resolve the Kafka and Spark jars: apt-get install maven"

# --- Python ---------------------------------------------------------------------------
# Every package from the test set's lock, each checked against its hashes; then the project
# itself and its test kit (testkit/, never in an image), editable, with nothing more
# fetched (its build requirements are in the lock).
# `make lock` regenerates the lock after pyproject.toml changes (a unit test insists).
stamp="$VENV/.airlines-installed"
want=$(hash_of pyproject.toml testkit/pyproject.toml requirements/test.txt)
if [ ! -x "$VENV/bin/python" ]; then
  step "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  step "installing the locked test dependencies and airlines-analytics into $VENV"
  "$VENV/bin/pip" install --progress-bar on --require-hashes -r requirements/test.txt
  "$VENV/bin/pip" install --no-deps --no-build-isolation -e . -e testkit
  echo "$want" > "$stamp"
else
  step "python packages up to date"
fi

# --- redis-server (Debian) ------------------------------------------------------------
if ! command -v redis-server >/dev/null; then
  step "installing redis-server from Debian"
  if ! as_root env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends redis-server redis-tools'; then
    need "redis-server 7 is required and could not be installed automatically: run 'sudo apt-get install redis-server' (Debian/Ubuntu)"
  fi
else
  step "redis-server present: $(redis-server --version | awk '{print $3}')"
fi

scripts/setup-redis.sh  # the local stack's redis-server 8 (TLS, Debian's CVE fixes)

# --- Chromium (Debian), for the dashboard's browser test (Playwright drives this one; it
# never downloads a browser of its own) ------------------------------------------------------
if ! command -v chromium >/dev/null; then
  step "installing chromium from Debian"
  if ! as_root env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core'; then
    need "chromium is required for the dashboard's browser test and could not be installed automatically: run 'sudo apt-get install chromium' (Debian/Ubuntu)"
  fi
else
  step "chromium present: $(chromium --version 2>/dev/null | awk '{print $2}')"
fi

# --- JVM jars ----------------------------------------------------------------------------
for bundle in kafka spark-kafka; do
  out="$CACHE/jars/$bundle"
  want=$(hash_of "jvm/$bundle/pom.xml")
  if [ "$(cat "$out/.stamp" 2>/dev/null)" != "$want" ]; then
    step "resolving $bundle jars with Maven into $out"
    rm -rf "$out"
    (cd "jvm/$bundle" && mvn -B -ntp -Dmaven.repo.local="$CACHE/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out")
    echo "$want" > "$out/.stamp"
  else
    step "$bundle jars up to date ($(ls "$out"/*.jar | wc -l) jars)"
  fi
done

# The job's own JVM functions (jvm/spark-job), compiled against the Spark PySpark ships.
out="$CACHE/jars/spark-job"
want=$(hash_of jvm/spark-job/pom.xml $(find jvm/spark-job/src -type f | sort))
if [ "$(cat "$out/.stamp" 2>/dev/null)" != "$want" ]; then
  step "building the job's JVM functions with Maven into $out"
  rm -rf "$out"
  mvn -B -ntp -q -f jvm/spark-job/pom.xml -Dmaven.repo.local="$CACHE/m2" package
  mkdir -p "$out"
  cp jvm/spark-job/target/airlines-spark-job.jar "$out/"
  echo "$want" > "$out/.stamp"
else
  step "spark-job jar up to date"
fi

# --- chart tools (helm, helm-unittest, kubeconform), built from the Go module proxy -----
if [ -x scripts/setup-chart-tools.sh ]; then
  scripts/setup-chart-tools.sh
fi
# --- the umbrella chart's remote dependency (spark-operator) is committed where `helm
# dependency build` puts it: check it is the version Chart.lock pins and its checksum.
"$VENV/bin/python" -m localkube.chartdeps

step "setup complete"
