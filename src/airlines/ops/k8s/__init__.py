"""Kubernetes API tasks of the chart's hooks: applying the streaming SparkApplication,
and stopping the Kafka brokers before an uninstall.

The SparkApplication is not a Helm release object: the Spark Operator's admission webhook
(failurePolicy Fail) must answer for it, and on a fresh install its pod is not running
yet when Helm creates the release's objects. The chart carries the manifest in a
ConfigMap instead, and a post-install/upgrade/rollback hook runs
``airlines k8s apply-spark-app``, which retries until the webhook answers and then
server-side applies the manifest with that ConfigMap as its owner.

- :mod:`airlines.ops.k8s.manifest`: reading the manifest, the owner reference, what an apply
  changed (pure);
- :mod:`airlines.ops.k8s.errors`: which API errors are worth waiting out (pure);
- :mod:`airlines.ops.k8s.apply`: the retry loop, against any
  :class:`~airlines.ops.k8s.apply.SparkAppApi`;
- :mod:`airlines.ops.k8s.stop`: scaling a StatefulSet to 0 and waiting for its pods (the
  Kafka subchart's pre-delete hook: brokers shut down while ZooKeeper still answers);
- :mod:`airlines.ops.k8s.client`: those APIs through the official ``kubernetes`` client.
"""
