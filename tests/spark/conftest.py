"""One local SparkSession for the whole test session: local[2], 2 shuffle partitions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from airlines.stream.session import JobOptions, build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session(
        JobOptions(
            master="local[2]",
            driver_memory="1g",
            log_level="ERROR",
            extra_spark_conf={"spark.sql.shuffle.partitions": "2"},
        ),
        app_name="airlines-tests",
    )
    yield session
    session.stop()
