"""Benchmarks of how much of the Authy rate budget the export uses; run with ``make bench``."""
