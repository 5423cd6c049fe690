"""The Structured Streaming job (``airlines stream``): Kafka -> schema and checks -> window
aggregates -> the Redis sink.

Every module here imports PySpark but :mod:`~airlines.stream.metrics`; only the job and its
tests import them.
"""
