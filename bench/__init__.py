"""Benchmarks run by `make bench`; each compares against a peer in the same run."""
