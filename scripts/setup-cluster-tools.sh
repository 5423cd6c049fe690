#!/usr/bin/env bash
# Builds what the e2e cluster runs (make e2e), from the Go module proxy and Debian only:
#   Kubernetes v1.36.3: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
#                       kube-proxy, kubectl (upstream main packages, localkube/go/kubernetes)
#   etcd v3.6.16        (upstream etcdmain, localkube/go/etcd)
#   CoreDNS v1.12.4     (go install, static: it runs in a pod)
#   local-path-provisioner v0.0.30 (go install, static: it runs in a pod; PVC storage)
#   spark-operator      (the chart's appVersion, built inside its module: it has replaces)
#   kube-router v2.1.0  (localkube/go/kube-router: the NetworkPolicy controller only, so the
#                       cluster enforces the chart's NetworkPolicies)
#   pause               (kubernetes' own build/pause/linux/pause.c, static)
# and installs containerd, runc, the CNI plugins, buildah, debootstrap, iptables, ipset and nftables from
# Debian when missing. Binaries go to $AIRLINES_CACHE/kube/bin with a version stamp each,
# so a rerun builds nothing; Go's module and build caches are shared with the chart tools.
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION=v1.36.3
ETCD_VERSION=v3.6.16
COREDNS_VERSION=v1.12.4
SPARK_OPERATOR_VERSION=v2.4.0 # = appVersion of the vendored chart (tests check it)

CACHE="${AIRLINES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airlines-analytics}"
BIN="$CACHE/kube/bin"
export GOMODCACHE="$CACHE/go/mod"
export GOCACHE="$CACHE/go/build"
export GOFLAGS="-modcacherw -buildvcs=false"
mkdir -p "$BIN"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
need() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
stamp_ok() { [ -x "$BIN/$1" ] && [ "$(cat "$BIN/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" > "$BIN/.$1.version"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

command -v go >/dev/null || need "Go 1.26+ is required to build the cluster: install Go from go.dev"

# --- Debian packages ------------------------------------------------------------------
debs=()
for pair in containerd:containerd runc:runc buildah:buildah debootstrap:debootstrap \
            iptables:iptables ipset:ipset nft:nftables ip:iproute2 conntrack:conntrack gcc:gcc; do
  command -v "${pair%%:*}" >/dev/null || debs+=("${pair#*:}")
done
[ -x /usr/lib/cni/bridge ] || debs+=(containernetworking-plugins)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || debs+=(libc6-dev)
if [ ${#debs[@]} -gt 0 ]; then
  step "installing from Debian: ${debs[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -q && apt-get install -y -q --no-install-recommends ${debs[*]}" \
    || need "could not install ${debs[*]}: run 'sudo apt-get install ${debs[*]}'"
else
  step "containerd, runc, CNI plugins, buildah, debootstrap present"
fi

# --- Kubernetes -------------------------------------------------------------------------
# Without these ldflags the components report v0.0.0-master and Helm's kubeVersion
# check fails.
minor=$(echo "$K8S_VERSION" | cut -d. -f2)
vpkg=k8s.io/component-base/version
kube_ldflags="-s -w -X $vpkg.gitVersion=$K8S_VERSION -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor"
kube_ldflags="$kube_ldflags -X $vpkg.gitTreeState=clean"
for component in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  if stamp_ok "$component" "$K8S_VERSION"; then
    step "$component $K8S_VERSION present"
    continue
  fi
  step "building $component $K8S_VERSION (upstream main package; minutes once, cold)"
  (cd localkube/go/kubernetes && CGO_ENABLED=0 go build -trimpath -ldflags "$kube_ldflags" \
      -o "$BIN/$component" "k8s.io/kubernetes/cmd/$component")
  stamp "$component" "$K8S_VERSION"
done

# --- etcd -----------------------------------------------------------------------------------
if stamp_ok etcd "$ETCD_VERSION"; then
  step "etcd $ETCD_VERSION present"
else
  step "building etcd $ETCD_VERSION"
  (cd localkube/go/etcd && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .)
  stamp etcd "$ETCD_VERSION"
fi

# --- CoreDNS (static: copied into an image) -------------------------------------------------
if stamp_ok coredns "$COREDNS_VERSION"; then
  step "coredns $COREDNS_VERSION present"
else
  step "building coredns $COREDNS_VERSION"
  GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@$COREDNS_VERSION"
  stamp coredns "$COREDNS_VERSION"
fi

# --- local-path-provisioner (static: it runs in a pod) --------------------------------------
LOCAL_PATH_PROVISIONER_VERSION=v0.0.30
if stamp_ok local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"; then
  step "local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION present"
else
  step "building local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION"
  GOBIN="$BIN" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_PROVISIONER_VERSION"
  stamp local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION"
fi

# --- spark-operator (its go.mod has replace lines: build inside the module) ---------------
if stamp_ok spark-operator "$SPARK_OPERATOR_VERSION"; then
  step "spark-operator $SPARK_OPERATOR_VERSION present"
else
  step "building spark-operator $SPARK_OPERATOR_VERSION"
  dir=$(go mod download -json "github.com/kubeflow/spark-operator/v2@$SPARK_OPERATOR_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || need "cannot download github.com/kubeflow/spark-operator/v2@$SPARK_OPERATOR_VERSION"
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" \
      -o "$BIN/spark-operator" ./cmd/operator)
  stamp spark-operator "$SPARK_OPERATOR_VERSION"
fi

# --- kube-router: the NetworkPolicy controller (iptables + ipset on the node) -------------
KUBE_ROUTER_VERSION=v2.1.0 # = the version localkube/go/kube-router/go.mod requires
if stamp_ok kube-router "$KUBE_ROUTER_VERSION"; then
  step "kube-router $KUBE_ROUTER_VERSION present"
else
  step "building kube-router $KUBE_ROUTER_VERSION (upstream main package)"
  (cd localkube/go/kube-router && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
      -o "$BIN/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
  stamp kube-router "$KUBE_ROUTER_VERSION"
fi

# --- pause: the pod sandbox's process, from kubernetes' own source ---------------------------
if stamp_ok pause "$K8S_VERSION"; then
  step "pause $K8S_VERSION present"
else
  step "building pause from k8s.io/kubernetes@$K8S_VERSION build/pause/linux/pause.c"
  dir=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
        | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  gcc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION" -o "$BIN/pause" "$dir/build/pause/linux/pause.c"
  stamp pause "$K8S_VERSION"
fi

step "cluster tools in $BIN: $(cd "$BIN" && ls | tr '\n' ' ')"
