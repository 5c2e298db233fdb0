"""Manifest entries for the conventions files of this corpus (same format as manifest.py's EXPECTED)."""

EXPECTED: dict = {}
