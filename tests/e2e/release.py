"""A release of the chart on the e2e cluster: install, inspect, operate, remove.

Each helper does what a user (or an operator) would do with kubectl and helm, and
waits on the condition that says it worked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tests.e2e.kube import CHART, Kube, wait_until

from airlines.produce.publisher import PartitionAcks, parse_acknowledged

REGIONS = ("east-coast", "west-coast", "cross-country")
_SUMMARY = re.compile(r"(\d+) delivered, (\d+) failed, (\d+) unacknowledged")


def _restarts(pod: dict[str, Any]) -> int:
    return sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))


def _last_exits(pod: dict[str, Any]) -> str:
    """How each restarted container's previous run ended (reason, exit code, times)."""
    return "; ".join(
        f"{status['name']}: {status.get('lastState', {}).get('terminated')}"
        for status in pod["status"].get("containerStatuses", [])
        if status.get("restartCount", 0)
    )


@dataclass
class Release:
    kube: Kube
    name: str
    namespace: str
    values: list[Path]
    #: Events each producer run reported delivered (acks=all), summed per region.
    delivered: dict[str, int] = field(default_factory=dict)
    #: Where each producer run was told its events are: per run, per partition.
    acknowledged: list[tuple[tuple[str, int], PartitionAcks]] = field(default_factory=list)

    # --- helm ---------------------------------------------------------------------------
    def helm_args(self, *extra: str) -> list[str]:
        args = [self.name, str(CHART), "-n", self.namespace]
        for path in self.values:
            args += ["-f", str(path)]
        return [*args, *extra]

    @property
    def redis_tls(self) -> bool:
        """Whether the release's Redis speaks TLS (its clients' configs say so)."""
        return "tls" in self.config_yaml("admin")["redis"]

    def install(self, timeout: str = "20m") -> str:
        return self.kube.helm(
            "install", *self.helm_args("--create-namespace", "--wait", "--timeout", timeout)
        )

    def uninstall(self) -> None:
        self.kube.helm("uninstall", self.name, "-n", self.namespace, "--wait", "--timeout", "10m")

    def installed(self) -> bool:
        out = self.kube.helm("list", "-n", self.namespace, "-q", "--all")
        return self.name in out.split()

    # --- names (the chart's helpers: "<release>-<component>") ------------------------
    def resource(self, component: str) -> str:
        return f"{self.name}-{component}"

    def selector(self, component: str) -> str:
        """Label selector of a component's pods (the chart's selector labels)."""
        return f"app.kubernetes.io/name={component},app.kubernetes.io/instance={self.name}"

    @property
    def app(self) -> str:
        return self.resource("streaming")

    # --- state ---------------------------------------------------------------------------
    def pods(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kube.json("-n", self.namespace, "get", "pods")["items"]
        return items

    def not_ready(self) -> list[str]:
        """Pods that should run and are not Ready (finished hook/test pods excluded)."""
        bad = []
        for pod in self.pods():
            if pod["status"].get("phase") == "Succeeded":
                continue
            conditions = pod["status"].get("conditions", [])
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                bad.append(f"{pod['metadata']['name']} ({pod['status'].get('phase')})")
        return bad

    def spark_application(self) -> dict[str, Any]:
        app: dict[str, Any] = self.kube.json(
            "-n", self.namespace, "get", "sparkapplication", self.app
        )
        return app

    def app_state(self) -> str:
        status = self.spark_application().get("status", {})
        return str(status.get("applicationState", {}).get("state", ""))

    def running_spark_pods(self) -> dict[str, list[dict[str, Any]]]:
        """The app's Running pods by ``spark-role`` (driver, executor): one request."""
        items = self.kube.json(
            "-n",
            self.namespace,
            "get",
            "pods",
            "-l",
            f"sparkoperator.k8s.io/app-name={self.app}",
            "--field-selector=status.phase=Running",
        )["items"]
        roles: dict[str, list[dict[str, Any]]] = {"driver": [], "executor": []}
        for pod in items:
            role = pod["metadata"].get("labels", {}).get("spark-role")
            if role in roles:
                roles[role].append(pod)
        return roles

    def running_spark(self, executors: int) -> dict[str, Any] | None:
        """The driver pod when the app is RUNNING with its driver and ``executors``
        executors running, else None."""
        if self.app_state() != "RUNNING":
            return None
        pods = self.running_spark_pods()
        drivers, running = pods["driver"], pods["executor"]
        if len(drivers) == 1 and len(running) >= executors:
            return drivers[0]
        return None

    def wait_running(self, executors: int, timeout: float = 600) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            return self.running_spark(executors)

        return wait_until(
            f"SparkApplication {self.app} RUNNING with {executors} executor(s)",
            probe,
            timeout,
            interval=5,
        )

    def wait_everything_ready(self, executors: int, timeout: float = 600) -> dict[str, Any]:
        """Wait until the job runs (driver + ``executors``) and every pod is Ready.

        ``helm install --wait`` waits for the chart's own workloads; the driver and
        executor pods come later, from the operator, so they are waited for here.
        """
        driver = self.wait_running(executors, timeout)
        wait_until("every pod Ready", lambda: not self.not_ready(), timeout, interval=5)
        return driver

    def pod_log(
        self, pod: str, container: str | None = None, *, previous: bool = False, check: bool = True
    ) -> str:
        """A container's log (the previous container's, after a restart); unchecked, what
        kubectl said when it fails."""
        args = ["kubectl", "-n", self.namespace, "logs", pod]
        args += ["-c", container] if container else []
        args += ["--previous"] if previous else []
        done = self.kube.run(args, check=check, timeout=60)
        return done.stdout if done.returncode == 0 else done.stdout + done.stderr

    def save_logs(self, directory: Path) -> None:
        """Every container's log of every pod of the namespace (and the previous
        container's, after a restart) into ``directory``: what a failed test leaves to
        read once the cluster is gone."""
        directory.mkdir(parents=True, exist_ok=True)
        pods = self.pods()
        # How each pod stands, and how restarted containers last ended (OOMKilled, a
        # failed probe's exit code...), which the logs alone do not say.
        (directory / "pods.yaml").write_text(
            yaml.safe_dump([{"name": p["metadata"]["name"], "status": p["status"]} for p in pods])
        )
        for pod in pods:
            name = pod["metadata"]["name"]
            for status in pod["status"].get("containerStatuses", []):
                container = status["name"]
                (directory / f"{name}.{container}.log").write_text(
                    self.pod_log(name, container, check=False)
                )
                if status.get("restartCount", 0):
                    (directory / f"{name}.{container}.previous.log").write_text(
                        self.pod_log(name, container, previous=True, check=False)
                    )
        events = self.kube.run(
            ["kubectl", "-n", self.namespace, "get", "events", "--sort-by=.lastTimestamp"],
            check=False,
        )
        (directory / "events.txt").write_text(events.stdout + events.stderr)

    def driver_log(self, pod: str) -> str:
        return self.pod_log(pod, "spark-kubernetes-driver")

    def config_yaml(self, redis_user: str | None = None) -> dict[str, Any]:
        """The AppConfig the release's pods read (its ConfigMap): the plain one, or a
        Redis client's, which names its ACL user."""
        cm = self.kube.json("-n", self.namespace, "get", "configmap", self.resource("config"))
        key = f"config-redis-{redis_user}.yaml" if redis_user else "config.yaml"
        data: dict[str, Any] = yaml.safe_load(cm["data"][key])
        return data

    def secret_file(self, secret: str, key: str, path: Path) -> Path:
        """One value of a Secret of the release, into a file only this user reads."""
        import base64

        data = self.kube.json("-n", self.namespace, "get", "secret", self.resource(secret))
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(data["data"][key]))
        return path

    def redis_cli(self, *args: str, user: str | None = "admin", tls: bool | None = None) -> str:
        """``redis-cli`` in the first Redis node's pod, as ``user`` (None: no login), over
        TLS when the release speaks it (or as ``tls`` says). The password goes from the
        node's mounted Secret file into redis-cli's environment, never an argument.
        Returns what it printed, errors included (redis-cli prints them to stdout)."""
        use_tls = self.redis_tls if tls is None else tls
        options = "-h localhost -p 6379"
        if use_tls:
            options += " --tls --cacert /etc/redis-tls/ca.crt"
        login = (
            'REDISCLI_AUTH=$(cat "/etc/redis-credentials/$0/password") '
            'exec redis-cli --no-auth-warning --user "$0" '
            if user
            else "exec redis-cli "
        )
        done = self.kube.run(
            [
                "kubectl",
                "-n",
                self.namespace,
                "exec",
                f"{self.resource('redis-cluster')}-0",
                "-c",
                "redis",
                "--",
                "sh",
                "-c",
                login + options + ' "$@"',
                user or "-",
                *args,
            ],
            check=False,
            timeout=60,
        )
        return done.stdout + done.stderr

    def dashboard_token(self) -> str:
        """The dashboard's token, as the chart's notes tell a user to read it."""
        import base64

        name = self.resource("dashboard-auth")
        secret = self.kube.json("-n", self.namespace, "get", "secret", name)
        return base64.b64decode(secret["data"]["token"]).decode()

    # --- producers -----------------------------------------------------------------------
    def producer(self, region: str) -> str:
        return self.resource(f"producer-{region}")

    def start_producers(self) -> None:
        for region in REGIONS:
            self.kube.kubectl(
                "-n", self.namespace, "scale", f"deployment/{self.producer(region)}", "--replicas=1"
            )
        for region in REGIONS:
            self.kube.kubectl(
                "-n",
                self.namespace,
                "rollout",
                "status",
                f"deployment/{self.producer(region)}",
                "--timeout=180s",
                timeout=200,
            )

    def stop_producers(self) -> dict[str, int]:
        """Scale the producers to zero; each flushes on SIGTERM and prints what the brokers
        acknowledged. Returns and accumulates the delivered counts per region."""
        pods = {}
        logs: dict[str, list[str]] = {region: [] for region in REGIONS}
        for region in REGIONS:
            found = self.kube.json(
                "-n", self.namespace, "get", "pods", "-l", self.selector(f"producer-{region}")
            )["items"]
            running = [p for p in found if p["status"].get("phase") == "Running"]
            pods[region] = [p["metadata"]["name"] for p in running]
            # A producer container that restarted (a stop-16 run: one exited early, with
            # 47 events acknowledged) printed its summary in its previous container's log.
            for pod in running:
                if _restarts(pod):
                    previous = self.pod_log(pod["metadata"]["name"], previous=True)
                    assert _SUMMARY.search(previous) or not re.search(
                        r"\b[1-9]\d* delivered", previous
                    ), (
                        f"{region}: a restarted producer container left no summary "
                        f"({_last_exits(pod)}):\n{previous[-3000:]}"
                    )
                    logs[region].append(previous)
        followers = []
        for region, names in pods.items():
            for name in names:
                thread = threading.Thread(
                    target=self._follow, args=(name, logs[region]), daemon=True
                )
                thread.start()
                followers.append(thread)
        for region in REGIONS:
            self.kube.kubectl(
                "-n", self.namespace, "scale", f"deployment/{self.producer(region)}", "--replicas=0"
            )
        for thread in followers:
            thread.join(120)
        counts = {}
        for region in REGIONS:
            delivered = 0
            for text in logs[region]:  # one pod's log each: its last summary counts
                summaries = list(_SUMMARY.finditer(text))
                if not summaries:
                    continue
                sent, failed, pending = (int(g) for g in summaries[-1].groups())
                assert failed == 0, f"{region}: {summaries[-1].group(0)}"
                assert pending == 0, f"{region}: {summaries[-1].group(0)}"
                spans = parse_acknowledged(text)
                assert sum(a.count for a in spans.values()) == sent, f"{region}: {text[-2000:]}"
                delivered += sent
                self.acknowledged += spans.items()
            if pods[region]:
                assert delivered > 0, f"{region}: no delivery summary in {logs[region]}"
            counts[region] = delivered
            self.delivered[region] = self.delivered.get(region, 0) + delivered
        wait_until(
            "producer pods gone",
            lambda: (
                not any(
                    self.kube.json(
                        "-n", self.namespace, "get", "pods", "-l", self.selector(f"producer-{r}")
                    )["items"]
                    for r in REGIONS
                )
            ),
            120,
        )
        return counts

    def _follow(self, pod: str, sink: list[str]) -> None:
        done = self.kube.run(
            ["kubectl", "-n", self.namespace, "logs", "-f", pod], check=False, timeout=180
        )
        sink.append(done.stdout)

    # --- Redis from this machine, through port-forwards --------------------------------
    @contextmanager
    def redis_config(
        self, directory: Path, user: str = "reader"
    ) -> Iterator[tuple[Path, dict[str, str]]]:
        """A config file for ``airlines query`` on this machine, as the Redis ACL user
        ``user`` (its password and the CA in files beside it): one port-forward per Redis
        node, and ``redis.addressRemap`` sending the nodes' announced names there. Yields
        the file and the environment it needs (none: no password in the environment)."""
        config = self.config_yaml(user)
        nodes = config["redis"]["nodes"]
        if config["redis"].get("passwordFile"):
            password = self.secret_file(
                f"redis-user-{user}", "password", directory / f"redis-{user}.password"
            )
            config["redis"]["passwordFile"] = str(password)
        if config["redis"].get("tls"):
            ca = self.secret_file("redis-tls", "ca.crt", directory / "redis-ca.crt")
            config["redis"]["tls"]["caFile"] = str(ca)
            # Through port-forwards on this machine: redis-py's cluster client turns
            # "localhost" into 127.0.0.1, which no node's certificate names. The CA is
            # still checked.
            config["redis"]["tls"]["checkHostname"] = False
        count = int(
            self.kube.json(
                "-n", self.namespace, "get", "statefulset", self.resource("redis-cluster")
            )["spec"]["replicas"]
        )
        with ExitStack() as stack:
            remap = {}
            for index in range(count):
                port = stack.enter_context(
                    self.kube.port_forward(
                        self.namespace, f"pod/{self.resource('redis-cluster')}-{index}", 6379
                    )
                )
                host = (
                    f"{self.resource('redis-cluster')}-{index}."
                    f"{self.resource('redis-cluster')}-headless.{self.namespace}.svc."
                    "cluster.local:6379"
                )
                remap[host] = f"127.0.0.1:{port}"
            assert set(nodes) <= set(remap), (nodes, sorted(remap))
            config["redis"]["nodes"] = sorted(remap.values())
            config["redis"]["addressRemap"] = remap
            path = directory / f"host-config-{user}.yaml"
            path.write_text(yaml.safe_dump(config))
            yield path, {}
