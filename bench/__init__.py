"""Benchmark suite of the storage service (not part of `make test`): `python -m bench.run`."""
