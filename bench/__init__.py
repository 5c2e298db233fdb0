"""Benchmarks for npcnn and crosscheck: ``python -m bench`` (see :mod:`bench.__main__`).

The package also holds stand-alone scripts run by path: ``bench/threads.py`` (thread-pool
interference) and ``bench/false_alarms.py`` (tolerance-policy false alarms).
"""
