"""Measure why crosscheck limits thread pools: npcnn conv2d forward+backward timed alone, then
interleaved with TensorFlow GradientTape conv cases in the same process (as the runner does), with
default thread pools and with ``limit_threads()``. Only the NumPy part is timed.

    python bench/threads.py            # runs the three modes in fresh subprocesses
"""
import os
import subprocess
import sys
import time

import numpy as np

from crosscheck.threads import limit_threads

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def numpy_conv():
    import npcnn  # deferred: the code under test, imported only where it is run
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 32, 32, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 32)).astype(np.float32)
    y, pull = npcnn.vjp("conv2d", x, w, padding="SAME")
    pull(y)


def tf_conv():
    import tensorflow as tf  # deferred: imports TensorFlow
    x = tf.constant(np.random.default_rng(1).standard_normal((8, 32, 32, 16)).astype(np.float32))
    w = tf.constant(np.random.default_rng(2).standard_normal((3, 3, 16, 32)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.conv2d(x, w, 1, "SAME")
    tape.gradient(y, x, output_gradients=y).numpy()


def main(mode: str, repeats: int = 30) -> None:
    if mode == "limited":
        limit_threads()
    numpy_conv()
    numpy_ms = []
    for _ in range(repeats):
        if mode != "numpy_alone":
            tf_conv()
        t = time.perf_counter()
        numpy_conv()
        numpy_ms.append((time.perf_counter() - t) * 1e3)
    numpy_ms.sort()
    print(f"{mode:12s}: npcnn conv2d fwd+bwd median {numpy_ms[len(numpy_ms) // 2]:.1f} ms, "
          f"max {numpy_ms[-1]:.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        for mode in ("numpy_alone", "interleaved", "limited"):
            subprocess.run([sys.executable, __file__, mode], check=True)
