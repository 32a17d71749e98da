"""Benchmarks run by `kehu bench NAME` (see docs/benchmarks.md)."""
