"""The streaming job: Kafka -> validate -> window aggregates -> Redis Cluster.

Modules that import PySpark (``schema``, ``transform``, ``streaming``) are only
imported by the job and its tests; ``layout`` and ``redis_sink`` are plain Python, so
the query commands use them without Spark.
"""
