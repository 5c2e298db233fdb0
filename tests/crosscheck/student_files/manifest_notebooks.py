"""Manifest entries for the notebooks files of this corpus (same format as manifest.py's EXPECTED)."""

EXPECTED: dict = {}
