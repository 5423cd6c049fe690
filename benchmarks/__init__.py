"""Throughput figures (``python -m benchmarks``, ``make bench``): printed, never asserted."""
