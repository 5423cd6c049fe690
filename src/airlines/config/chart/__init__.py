"""Values of the Helm chart bundle (``charts/airlines-analytics``), as pydantic models.

The chart's ``values.schema.json`` is generated from
:class:`~airlines.config.chart.umbrella.ChartValues` (``airlines values schema``),
``airlines values validate`` checks values files with it, and a test keeps the committed
schema, the chart's ``values.yaml`` and these defaults equal
(:mod:`airlines.config.chart.documents` writes both). The runtime sections (topics, dead
letter, streaming, Redis TTL and key prefix, producers, Kafka client settings) are the
models of :mod:`airlines.config.models` themselves: ``global.config`` is rendered into
the ConfigMap every pod reads as ``/etc/airlines/config.yaml``, with the in-cluster Kafka
brokers and Redis nodes filled in by the chart (``ChartValues.app_config`` computes the
same document).

Layout: one key per subchart (``zookeeper``, ``kafka``, ``redis-cluster``, ``rbac``,
``producers``, ``streaming``, ``dashboard``, ``spark-operator``), each with ``enabled``
(the dependency's ``condition``) and each a module here; facts more than one subchart
needs (names, images, the Redis Secret, the runtime config) under ``global``
(:mod:`~airlines.config.chart.global_values`). Nested objects reject unknown keys; Helm
copies ``global`` into every subchart's values, so each subchart section accepts that
key too.
"""
