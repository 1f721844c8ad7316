"""Repeatable measurements of our own cost: ./scripts/bench NAME runs benchmarks/bench_NAME.py.

A package, so that benchmarks.smoke is ours wherever the scripts run from; the files are named
bench_NAME.py so that none can shadow an installed package (tests/test_benchmarks.py).
"""
