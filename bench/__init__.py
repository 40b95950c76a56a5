"""Benchmarks (`make bench`): figures for the docs, not timed tests."""
