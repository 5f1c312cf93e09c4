"""Benchmark workloads, one module per area (see `bench.harness`)."""
