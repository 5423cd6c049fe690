#!/usr/bin/env bash
# Builds the project's images (make images):
#   airlines-analytics/producer:<version>   images/producer/Dockerfile
#   airlines-analytics/spark-job:<version>  images/spark-job/Dockerfile
# <version> is pyproject.toml's, which is also the chart's default image tag.
#
# Uses a running Docker engine, else a running minikube (`minikube image build` puts the
# images straight into the cluster; values/minikube.yaml never pulls them).
#   BUILDER=docker|minikube   force one
#   DRY_RUN=1                 print the commands only
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)
[ -n "$version" ] || { echo "error: no version in pyproject.toml" >&2; exit 1; }
images=(producer spark-job)

builder="${BUILDER:-}"
if [ -z "$builder" ]; then
  if [ -n "${DRY_RUN:-}" ]; then
    builder=docker
  elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    builder=docker
  elif command -v minikube >/dev/null 2>&1 && minikube status >/dev/null 2>&1; then
    builder=minikube
  else
    cat >&2 <<MSG
error: cannot build images: no running Docker engine ('docker info' fails or docker is
not installed) and no running minikube ('minikube status' fails or minikube is not
installed). Either start Docker, or start minikube (minikube start) and run 'make images'
again; BUILDER=docker|minikube picks one explicitly.
MSG
    exit 1
  fi
fi

for image in "${images[@]}"; do
  tag="airlines-analytics/${image}:${version}"
  case "$builder" in
    docker) cmd=(docker build -f "images/${image}/Dockerfile" -t "$tag" .) ;;
    minikube) cmd=(minikube image build -f "images/${image}/Dockerfile" -t "$tag" .) ;;
    *) echo "error: BUILDER must be docker or minikube, got '$builder'" >&2; exit 2 ;;
  esac
  echo "+ ${cmd[*]}"
  if [ -z "${DRY_RUN:-}" ]; then
    "${cmd[@]}"
  fi
done
