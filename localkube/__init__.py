"""localkube: the single-node Kubernetes cluster that ``make e2e`` installs the chart on.

Everything runs as processes of this machine, started and stopped by this package:
containerd (Debian), etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kubelet and kube-proxy (upstream, built from the Go module proxy by
``scripts/setup-cluster-tools.sh``), with CoreDNS and a local-path storage provisioner
running as pods. Images are built with buildah from the project's own Dockerfiles, on
stand-ins for the official bases built from Debian packages (``localkube/standins``).

Its files live in a git-ignored directory (``.e2e/`` by default); the build caches under
``$AIRLINES_CACHE``. Network traffic is contained: see :mod:`localkube.net`.
"""
