"""Main file of the SparkApplication (``mainApplicationFile`` in the chart).

spark-submit needs a Python file to run in the driver; this one runs the same
``airlines stream`` command the local stack and the tests run, so there is one
entrypoint for the job wherever it runs. Arguments pass through unchanged, e.g.
``--config /etc/airlines/config.yaml``.
"""

from __future__ import annotations

import sys

from airlines.cli import main

if __name__ == "__main__":
    sys.argv = ["airlines", "stream", *sys.argv[1:]]
    main()
