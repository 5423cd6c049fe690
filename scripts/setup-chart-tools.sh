#!/usr/bin/env bash
# Builds the chart tools from the Go module proxy into $AIRLINES_CACHE/bin:
#   helm (3.x), helm-unittest (standalone binary, also registered as a helm plugin),
#   kubeconform and helm-docs (writes the chart README's parameter table).
# No release binaries are downloaded (this project's machines reach package registries
# only); everything is compiled with the local Go toolchain. Module and build caches
# live under $AIRLINES_CACHE/go, so a rerun with the pinned versions already built does
# nothing, and a rebuild after a version bump only compiles what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
HELM_UNITTEST_VERSION=v1.1.2
KUBECONFORM_VERSION=v0.8.0
HELM_DOCS_VERSION=v1.14.2

CACHE="${AIRLINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airlines-analytics}"
BIN="$CACHE/bin"
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOFLAGS="-modcacherw -buildvcs=false"
export CGO_ENABLED=0
mkdir -p "$BIN"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
need() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
stamp_ok() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$BIN/.$1.version"; }

command -v go >/dev/null || need "Go 1.24+ is required to build helm, helm-unittest, kubeconform and helm-docs: apt-get install golang-go (or install Go from go.dev)"

# Directory of a module version in the module cache (downloaded once).
module_dir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

# Kubernetes version a helm library build assumes for .Capabilities.KubeVersion (and for
# kubeVersion constraints). Without these ldflags helm 3 reports v1.20, which fails any
# chart requiring a newer cluster. Mirrors K8S_MODULES_VER in helm's Makefile: the major
# is client-go's major + 1, the minor is client-go's minor.
k8s_ldflags() { # $1 = go.mod whose client-go version is used
  local ver major minor
  ver=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$1")
  [ -n "$ver" ] || need "cannot find k8s.io/client-go in $1"
  ver=${ver#v}
  major=$(( ${ver%%.*} + 1 ))
  minor=$(echo "$ver" | cut -d. -f2)
  echo "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major" \
       "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" \
       "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major" \
       "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
}

# --- helm --------------------------------------------------------------------------------
if stamp_ok helm "$HELM_VERSION"; then
  step "helm $HELM_VERSION present"
else
  step "building helm $HELM_VERSION (go install from the module proxy; a few minutes once)"
  dir=$(module_dir "helm.sh/helm/v3@$HELM_VERSION")
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags="$ldflags -X helm.sh/helm/v3/internal/version.gitTreeState=clean $(k8s_ldflags "$dir/go.mod")"
  GOBIN="$BIN" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION"
fi

# --- helm-unittest -------------------------------------------------------------------------
# Its go.mod has a `replace` directive, which `go install module@version` refuses, so it
# is built inside its downloaded module directory with its own go.mod and go.sum.
if stamp_ok helm-unittest "$HELM_UNITTEST_VERSION"; then
  step "helm-unittest $HELM_UNITTEST_VERSION present"
else
  step "building helm-unittest $HELM_UNITTEST_VERSION (inside its module: it has a replace directive)"
  dir=$(module_dir "github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION")
  ldflags="-s -w -X github.com/helm-unittest/helm-unittest/internal/build.version=${HELM_UNITTEST_VERSION#v}"
  ldflags="$ldflags $(k8s_ldflags "$dir/go.mod")"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$BIN/helm-unittest" ./cmd/helm-unittest)
  stamp helm-unittest "$HELM_UNITTEST_VERSION"
fi

# Also usable as `helm unittest`: a plugin directory whose command is the binary above.
plugins="$("$BIN/helm" env HELM_PLUGINS)"
plugin="$plugins/unittest"
if [ "$(cat "$plugin/.version" 2>/dev/null)" != "$HELM_UNITTEST_VERSION" ]; then
  step "registering helm-unittest as the helm plugin 'unittest' in $plugin"
  mkdir -p "$plugin"
  ln -sf "$BIN/helm-unittest" "$plugin/untt"
  cat > "$plugin/plugin.yaml" <<EOF
name: "unittest"
version: "${HELM_UNITTEST_VERSION#v}"
usage: "unittest for helm charts"
description: "helm-unittest built by airlines-analytics scripts/setup-chart-tools.sh"
ignoreFlags: false
command: "\$HELM_PLUGIN_DIR/untt"
EOF
  echo "$HELM_UNITTEST_VERSION" > "$plugin/.version"
fi

# --- kubeconform ---------------------------------------------------------------------------
if stamp_ok kubeconform "$KUBECONFORM_VERSION"; then
  step "kubeconform $KUBECONFORM_VERSION present"
else
  step "building kubeconform $KUBECONFORM_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  stamp kubeconform "$KUBECONFORM_VERSION"
fi

# --- helm-docs ------------------------------------------------------------------------------
if stamp_ok helm-docs "$HELM_DOCS_VERSION"; then
  step "helm-docs $HELM_DOCS_VERSION present"
else
  step "building helm-docs $HELM_DOCS_VERSION"
  GOBIN="$BIN" go install -trimpath -ldflags "-s -w -X main.version=${HELM_DOCS_VERSION#v}" \
    "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  stamp helm-docs "$HELM_DOCS_VERSION"
fi

step "chart tools: $("$BIN/helm" version --short), helm-unittest $HELM_UNITTEST_VERSION, kubeconform $KUBECONFORM_VERSION, helm-docs $HELM_DOCS_VERSION (in $BIN)"
