"""`make bench`: benchmarks that run the real processes and print numbers (docs/benchmarks.md)."""
