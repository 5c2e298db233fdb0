"""Manifest entries for the layer_styles files of this corpus (same format as manifest.py's EXPECTED)."""

EXPECTED: dict = {}
