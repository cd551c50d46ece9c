"""Benchmarks: pytest-benchmark micro suites and load generators."""
