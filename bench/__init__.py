"""Benchmarks: load tests that print numbers (never run by the test suite)."""
