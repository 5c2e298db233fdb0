"""Runnable examples: ``python -m npcnn.examples.train_digits``."""
