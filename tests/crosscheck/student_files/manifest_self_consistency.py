"""Manifest entries for the self_consistency files of this corpus (same format as manifest.py's EXPECTED)."""

EXPECTED: dict = {}
