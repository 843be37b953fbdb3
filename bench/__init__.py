"""Benchmarks that print figures (run as modules, e.g. ``python -m bench.routing``)."""
