#!/usr/bin/env bash
# Builds the project's images (make images):
#   airlines-analytics/producer:<version>   images/producer/Dockerfile
#   airlines-analytics/spark-job:<version>  images/spark-job/Dockerfile
# <version> is pyproject.toml's, which is also the chart's default image tag.
#
# Uses a running Docker engine, else a running minikube (`minikube image build` puts the
# images straight into the cluster; values/minikube.yaml never pulls them), else buildah
# when it is installed (chroot isolation, layer cache; what `make e2e` uses through
# localkube/images.py, with stand-ins for the base images).
#   BUILDER=docker|minikube|buildah   force one
#   IMAGES="producer spark-job"       build only these
#   BUILD_ARGS="NAME=VALUE ..."       build args, e.g. other base images:
#                                     PYTHON_IMAGE=... SPARK_IMAGE=... MAVEN_IMAGE=...
#   CA_BUNDLE=FILE                    behind a TLS-intercepting (corporate) proxy: the PEM
#                                     bundle pip trusts in RUN steps, e.g.
#                                     /etc/ssl/certs/ca-certificates.crt
#   JAVA_TRUSTSTORE=FILE              the same for Maven: a Java truststore, e.g.
#                                     /etc/ssl/certs/java/cacerts
#     Both are build secrets (docker/buildah --secret id=ca-bundle|java-truststore): mounted
#     only while a RUN step runs, never stored in an image layer. Not with minikube.
#   BUILDAH_ROOT, BUILDAH_RUNROOT     buildah's storage (its --root/--runroot)
#   SBOM_DIR=DIR                      where each image's SBOM is written (default build/sbom)
#
# Each image carries its CycloneDX SBOM (JSON) at /opt/airlines/sbom.cdx.json (made in its
# build, images/sbom.py); it is copied out to $SBOM_DIR/<image>-<version>.cdx.json (not with
# minikube, whose images stay in the cluster: read it there).
#   DRY_RUN=1                         print the commands only
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)
[ -n "$version" ] || { echo "error: no version in pyproject.toml" >&2; exit 1; }
read -r -a images <<<"${IMAGES:-producer spark-job}"
sbom_dir="${SBOM_DIR:-build/sbom}"
SBOM_PATH=/opt/airlines/sbom.cdx.json
read -r -a build_args <<<"${BUILD_ARGS:-}"

builder="${BUILDER:-}"
if [ -z "$builder" ]; then
  if [ -n "${DRY_RUN:-}" ]; then
    builder=docker
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    builder=docker
  elif command -v minikube >/dev/null 2>&1 && minikube status >/dev/null 2>&1; then
    builder=minikube
  elif command -v buildah >/dev/null 2>&1; then
    builder=buildah
  else
    cat >&2 <<MSG
error: cannot build images: no running Docker engine ('docker info' fails or docker is
not installed), no running minikube ('minikube status' fails or minikube is not
installed) and no buildah. Either start Docker, or start minikube (minikube start) and run
'make images' again, or install buildah; BUILDER=docker|minikube|buildah picks one.
MSG
    exit 1
  fi
fi

opts=()
for arg in "${build_args[@]}"; do
  case "$builder" in
    minikube) opts+=("--build-opt=build-arg=$arg") ;;
    *) opts+=(--build-arg "$arg") ;;
  esac
done
for pair in ca-bundle=CA_BUNDLE java-truststore=JAVA_TRUSTSTORE; do
  id="${pair%%=*}" var="${pair#*=}"
  file="${!var:-}"
  [ -n "$file" ] || continue
  if [ "$builder" = minikube ]; then
    echo "error: $var: 'minikube image build' cannot pass build secrets; use BUILDER=docker or buildah" >&2
    exit 2
  fi
  [ -f "$file" ] || [ -n "${DRY_RUN:-}" ] || { echo "error: $var=$file: no such file" >&2; exit 2; }
  opts+=(--secret "id=$id,src=$file")
done

# buildah resolves no short names (docker.io is not implied): the Dockerfile's default base
# images are passed fully qualified, unless BUILD_ARGS names others.
qualified_bases() {
  local arg name ref first
  for arg in $(sed -n 's/^ARG \([A-Z_]*_IMAGE=.*\)$/\1/p' "$1"); do
    name="${arg%%=*}" ref="${arg#*=}" first="${ref%%/*}"
    [[ " ${build_args[*]} " == *" $name="* ]] && continue
    if [[ "$ref" != */* ]]; then
      ref="docker.io/library/$ref"
    elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then
      ref="docker.io/$ref"
    fi
    printf '%s\n' --build-arg "$name=$ref"
  done
}

# Copies the SBOM an image carries out of it: extract_sbom BUILDER TAG FILE.
extract_sbom() {
  local builder="$1" tag="$2" out="$3" id mnt
  mkdir -p "$(dirname "$out")"
  case "$builder" in
    docker)
      id=$(docker create "$tag")
      docker cp "$id:$SBOM_PATH" "$out"
      docker rm "$id" >/dev/null ;;
    buildah)
      local b=(buildah ${BUILDAH_ROOT:+--root "$BUILDAH_ROOT"} ${BUILDAH_RUNROOT:+--runroot "$BUILDAH_RUNROOT"})
      id=$("${b[@]}" from --pull=never --quiet "$tag")
      if [ "$(id -u)" != 0 ]; then
        "${b[@]}" rm "$id" >/dev/null
        echo "note: the SBOM of $tag is inside it, at $SBOM_PATH (copied out as root only)"
        return
      fi
      mnt=$("${b[@]}" mount "$id")
      cp "$mnt$SBOM_PATH" "$out"
      "${b[@]}" umount "$id" >/dev/null
      "${b[@]}" rm "$id" >/dev/null ;;
    minikube)
      echo "note: the SBOM of $tag is inside it, at $SBOM_PATH"; return ;;
  esac
  echo "SBOM of $tag: $out"
}

for image in "${images[@]}"; do
  tag="airlines-analytics/${image}:${version}"
  dockerfile="images/${image}/Dockerfile"
  [ -f "$dockerfile" ] || { echo "error: no $dockerfile" >&2; exit 2; }
  case "$builder" in
    docker) cmd=(docker build "${opts[@]}" -f "$dockerfile" -t "$tag" .) ;;
    minikube) cmd=(minikube image build "${opts[@]}" -f "$dockerfile" -t "$tag" .) ;;
    buildah)
      mapfile -t bases < <(qualified_bases "$dockerfile")
      cmd=(buildah ${BUILDAH_ROOT:+--root "$BUILDAH_ROOT"} ${BUILDAH_RUNROOT:+--runroot "$BUILDAH_RUNROOT"}
           bud --isolation chroot --network host --layers --pull=false
           "${bases[@]}" "${opts[@]}" -f "$dockerfile" -t "$tag" .) ;;
    *) echo "error: BUILDER must be docker, minikube or buildah, got '$builder'" >&2; exit 2 ;;
  esac
  echo "+ ${cmd[*]}"
  if [ -z "${DRY_RUN:-}" ]; then
    if [ "$builder" = docker ]; then
      DOCKER_BUILDKIT=1 "${cmd[@]}"
    else
      "${cmd[@]}"
    fi
    extract_sbom "$builder" "$tag" "$sbom_dir/${image}-${version}.cdx.json"
  fi
done
