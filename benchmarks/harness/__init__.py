"""The pieces of ``python -m benchmarks.compare``: run specs, subprocesses with a deadline, the
per-run ledger, result rows, the markdown/CSV table and the plot."""
