"""Train a small CNN on scikit-learn's 8x8 digits with npcnn, and plot what happened.

    python -m npcnn.examples.train_digits [--epochs 15] [--out digits.png] [--seed 0] [--threads 1]

Conv-BN-ReLU-pool x2, dropout and a dense classifier (about 25k parameters) trained with Adam on
1438 images; reports the test accuracy on the 359 held-out images and writes a PNG with the
loss/accuracy curves and the confusion matrix. The data ship with scikit-learn: nothing is downloaded.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

import npcnn as N
from npcnn.optimizers import LearningRate


def cosine_decay(initial: float, steps: int) -> Callable[[int], float]:
    """``initial * (1 + cos(pi * t / steps)) / 2``: a stable last epoch without tuning a schedule."""
    def learning_rate(t: int) -> float:
        return initial * 0.5 * (1.0 + np.cos(np.pi * min(t, steps) / steps))
    return learning_rate


def build_model(seed: int = 0, learning_rate: LearningRate = 0.002) -> N.Sequential:
    model = N.Sequential([
        N.Conv2D(32, 3, padding="same", use_bias=False),
        N.BatchNormalization(momentum=0.9),  # few steps per epoch: let the moving stats catch up
        N.ReLU(),
        N.MaxPooling2D(),
        N.Conv2D(64, 3, padding="same", use_bias=False),
        N.BatchNormalization(momentum=0.9),
        N.ReLU(),
        N.MaxPooling2D(),
        N.Flatten(),
        N.Dropout(0.3, seed=seed),
        N.Dense(10),
    ], name="digits_cnn")
    model.build((None, 8, 8, 1), "float32", seed=seed)
    model.compile(N.Adam(learning_rate=learning_rate), N.SparseCategoricalCrossentropy(from_logits=True))
    return model


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """``m[t, p]`` = number of examples of class ``t`` predicted as ``p``."""
    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot(history: N.History, confusion: np.ndarray, accuracy: float, path: str) -> None:
    import matplotlib  # deferred: matplotlib is optional and slow to import; only the figure needs it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib, as above

    epochs = np.arange(1, len(history.epoch) + 1)
    fig, (ax_loss, ax_acc, ax_cm) = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, key, title in ((ax_loss, "loss", "Cross-entropy loss"), (ax_acc, "accuracy", "Accuracy")):
        ax.plot(epochs, history[key], "o-", label="train")
        ax.plot(epochs, history[f"val_{key}"], "s-", label="test")
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    im = ax_cm.imshow(confusion, cmap="Blues")
    for (t, p), count in np.ndenumerate(confusion):
        if count:
            ax_cm.text(p, t, str(count), ha="center", va="center", fontsize=8,
                       color="white" if count > confusion.max() / 2 else "black")
    ax_cm.set(title=f"Test confusion matrix (accuracy {accuracy:.1%})", xlabel="predicted", ylabel="true",
              xticks=range(10), yticks=range(10))
    fig.colorbar(im, ax=ax_cm, fraction=0.046)
    fig.suptitle("npcnn on scikit-learn digits (8x8)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="digits_training.png", help="PNG to write ('' to skip)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (small GEMMs: 1 is fastest, and safest on a shared machine)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = N.datasets.load_digits(seed=args.seed)
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    model = build_model(args.seed, cosine_decay(0.003, steps))
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    if not args.quiet:
        print(f"digits: {len(x_train)} train / {len(x_test)} test images of 8x8")
        model.summary()
    start = time.perf_counter()
    with threadpool_limits(args.threads):
        history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=(x_test, y_test), seed=args.seed, verbose=verbose)
        predicted = np.argmax(model.predict(x_test), axis=-1)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(predicted == y_test))
    confusion = confusion_matrix(y_test, predicted, 10)
    if not args.quiet:
        print(f"test accuracy {accuracy:.2%} ({int((predicted != y_test).sum())} of {len(y_test)} wrong) "
              f"after {args.epochs} epochs, {seconds:.1f} s of training")
    if args.out:
        try:
            plot(history, confusion, accuracy, args.out)
        except ImportError:
            print("matplotlib is not installed: no PNG written (pip install matplotlib)")
        else:
            if not args.quiet:
                print(f"wrote {args.out}")
    return {"accuracy": accuracy, "seconds": seconds, "history": history.history, "confusion": confusion}


if __name__ == "__main__":
    main()
