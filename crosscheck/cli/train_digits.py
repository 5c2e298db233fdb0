"""``crosscheck train-digits``: npcnn's example CNN trained on scikit-learn's digits (its own options)."""
from __future__ import annotations

from rich.console import Console

from .common import EXIT_OK


def cmd_train_digits(args, console: Console) -> int:
    from npcnn.examples.train_digits import main as train_digits  # deferred: npcnn (the example) and scikit-learn
    train_digits(args.example_args)
    return EXIT_OK
