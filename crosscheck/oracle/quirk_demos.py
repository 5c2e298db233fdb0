"""Demonstrations that TensorFlow still behaves as each quirk of :mod:`crosscheck.oracle.quirks`
says: each returns True while the quirk holds (tests/crosscheck/test_quirks.py runs every one, on
both CPU backends, and requires it to show exactly on the backends its quirk names). Each imports
TensorFlow when it runs. A demonstration that kills its process (``Quirk.in_subprocess``) runs its
script in a child process (:func:`run_script`): forked from crosscheck's fork server
(:mod:`crosscheck.forking`: TensorFlow imported once, no op run, this process's backend), else a new
``python``."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import forking
from ..tf_import import keras_module, tensorflow
from . import backend
from .backend import ONEDNN


def _tf():
    return tensorflow()


def _raises(fn) -> bool:
    tf = _tf()
    try:
        fn()
    except (tf.errors.OpError, ValueError, TypeError):
        return True
    return False


def run_script(script: str, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -c SCRIPT ARGV`` as :func:`subprocess.run` with ``capture_output=True, text=True``
    gives it (``returncode`` negative for the signal that killed it), with this process's environment:
    in a child forked from this process's fork server (TensorFlow imported when the server started,
    on the backend this process's environment chose, no op run), else in a new ``python``."""
    with tempfile.TemporaryDirectory() as tmp:
        stdout, stderr = Path(tmp, "stdout"), Path(tmp, "stderr")
        child = forking.start(_run_script, (script, list(argv), str(stdout)), output=stderr,
                              name="crosscheck-quirk-demo")
        if child is None:
            return subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True,
                                  timeout=timeout)
        try:
            code = child.wait(timeout=timeout)
        finally:
            child.kill()
        return subprocess.CompletedProcess(["python", "-c", script, *argv], code,
                                           *(p.read_text() if p.exists() else "" for p in (stdout, stderr)))


def _run_script(script: str, argv: list, stdout: str) -> None:
    """A forked child's body: ``script`` as ``__main__`` with ``sys.argv[1:] == argv``, its prints in
    the file ``stdout`` (line-buffered: what it printed before it died is there)."""
    sys.argv = ["-c", *argv]
    with open(stdout, "w", buffering=1) as out, contextlib.redirect_stdout(out):
        exec(compile(script, "<quirk demonstration>", "exec"), {"__name__": "__main__"})


def _normal(shape, dtype="float64", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _conv_grad(x, w, **kw):
    tf = _tf()
    x, w = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as t:
        t.watch([x, w])
        y = tf.nn.conv2d(x, w, **kw)
    return t.gradient(y, [x, w], output_gradients=tf.ones_like(y))[1].numpy()


def demo_dilated_gradient() -> bool:
    return all(_raises(lambda d=dtype: _conv_grad(_normal((1, 7, 7, 1), d), _normal((2, 2, 1, 1), d),
                                                  strides=1, padding="VALID", dilations=2))
               for dtype in ("float64",))


def demo_grouped_gradient() -> bool:
    """float64 on both backends; float32 too on Eigen (oneDNN computes it)."""
    dtypes = ("float64",) if backend.in_force() == ONEDNN else ("float32", "float64")
    return all(_raises(lambda d=dtype: _conv_grad(_normal((1, 5, 5, 4), d), _normal((3, 3, 2, 4), d),
                                                  strides=1, padding="SAME"))
               for dtype in dtypes)


def demo_depthwise_unequal_strides() -> bool:
    """float64 (Eigen's kernel on both backends; oneDNN's float32 kernel takes unequal strides)."""
    tf = _tf()
    return _raises(lambda: tf.nn.depthwise_conv2d(_normal((1, 6, 6, 2)), _normal((2, 2, 2, 1)), [1, 1, 2, 1], "VALID"))


def demo_depthwise_strided_dilated_size() -> bool:
    """5x5 input, 2x2 kernel, stride 2, dilation 2, VALID: the rule gives 2x2; TF gives another size."""
    tf = _tf()
    y = tf.nn.depthwise_conv2d(_normal((1, 5, 5, 1), "float32"), _normal((2, 2, 1, 1), "float32"), [1, 2, 2, 1],
                               "VALID", dilations=[2, 2])
    return tuple(y.shape[1:3]) != (2, 2)


def demo_depthwise_one_dilation() -> bool:
    """A 1-element dilations list: 5x5 SAME must stay 5x5; TF returns another size."""
    tf = _tf()
    y = tf.nn.depthwise_conv2d(_normal((1, 5, 5, 2), "float32"), _normal((2, 2, 2, 1), "float32"), [1, 1, 1, 1],
                               "SAME", dilations=[2])
    return tuple(y.shape[1:3]) != (5, 5)


def _depthwise_gradient_ever_nonzero(x_shape, f_shape, dtype: str, wrt: str) -> bool:
    """Whether TF's gradient of tf.nn.depthwise_conv2d (ones in, SAME) with respect to ``wrt``
    ("input" or "filter") for a zero upstream gradient is nonzero on any of 20 tries: it must be 0,
    and uninitialised memory is garbage on most runs but not on every one."""
    tf = _tf()
    for _ in range(20):
        x, f = tf.constant(np.ones(x_shape, dtype)), tf.constant(np.ones(f_shape, dtype))
        with tf.GradientTape() as t:
            t.watch(x if wrt == "input" else f)
            y = tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], "SAME")
        g = t.gradient(y, x if wrt == "input" else f, output_gradients=tf.zeros_like(y)).numpy()
        if not np.all(g == 0):
            return True
    return False


def demo_depthwise_zero_multiplier() -> bool:
    """With multiplier 0 the output is empty and every gradient is 0; TF's input gradient is left
    uninitialised."""
    return _depthwise_gradient_ever_nonzero((2, 8, 8, 4), (3, 3, 4, 0), "float64", "input")


def demo_depthwise_empty_batch() -> bool:
    """The filter gradient of an empty batch is 0; TF's kernel leaves its output uninitialised
    (garbage or NaN). float64: Eigen's kernel on both backends (float32 on oneDNN: quirk onednn-empty-tensor)."""
    return _depthwise_gradient_ever_nonzero((0, 8, 8, 16), (5, 5, 16, 4), "float64", "filter")


EMPTY_OUTPUT_FILTER_GRADIENT = """
import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import sys
import numpy as np, tensorflow as tf
def filter_gradient(x_shape, w_shape, strides, depthwise=False):
    x, w = tf.constant(np.ones(x_shape, sys.argv[2])), tf.constant(np.ones(w_shape, sys.argv[2]))
    with tf.GradientTape() as t:
        t.watch(w)
        y = (tf.nn.depthwise_conv2d(x, w, strides, 'SAME') if depthwise else tf.nn.conv2d(x, w, strides, 'SAME'))
    return t.gradient(y, w, output_gradients=tf.zeros_like(y)).numpy()
if sys.argv[1] == 'garbage':
    conv = any(np.any(filter_gradient((2, 0, 5, 2), (3, 3, 2, 4), [1, 1, 1, 1]) != 0) for _ in range(20))
    depthwise = any(np.any(filter_gradient((2, 0, 5, 2), (3, 3, 2, 2), [1, 1, 1, 1], True) != 0) for _ in range(20))
    print('uninitialised' if conv and depthwise else 'zeros')
else:
    filter_gradient((3, 21, 0, 3), (1, 1, 3, 3), [1, 1, 3, 1])
    print('computed')
"""


def demo_empty_output_filter_gradient() -> bool:
    """In child processes: SAME on a (2, 0, 5, C) input, so an empty output: tf.nn.conv2d's and
    tf.nn.depthwise_conv2d's filter gradients (exact: 0) are nonzero on one of 20 tries; a 1x1
    filter with stride 3 along the empty axis kills the process. The crash in float64 (Eigen's
    kernels on both backends, which oneDNN's float32 cases reach through quirk onednn-empty-tensor),
    the garbage in float32 on Eigen."""
    crash = run_script(EMPTY_OUTPUT_FILTER_GRADIENT, "crash", "float64").returncode < 0
    return crash and (backend.in_force() == ONEDNN
                      or "uninitialised" in run_script(EMPTY_OUTPUT_FILTER_GRADIENT, "garbage", "float32").stdout)


def demo_nchw_float64() -> bool:
    tf = _tf()
    return _raises(lambda: tf.nn.conv2d(_normal((1, 2, 5, 5)), _normal((3, 3, 2, 1)), 1, "SAME",
                                        data_format="NCHW").numpy())


def demo_sce_negative_axis() -> bool:
    tf = _tf()
    return _raises(lambda: tf.nn.softmax_cross_entropy_with_logits(_normal((3, 4)), _normal((3, 4)), axis=-2))


def demo_avg_pool_gradient() -> bool:
    """Width 4, window 5, stride 1, SAME: TF's AvgPoolGrad differs from the conv formulation
    (independently confirmed by finite differences in tests/crosscheck/test_arbiter.py)."""
    tf = _tf()
    from .tf_lib import avg_pool_as_conv  # deferred: imports TensorFlow
    x = tf.constant(_normal((1, 1, 4, 1)))
    dy = tf.constant(_normal((1, 1, 4, 1), seed=1))
    grads = []
    for pool in (lambda t: tf.nn.avg_pool2d(t, [1, 5], 1, "SAME"), lambda t: avg_pool_as_conv(t, [1, 5], [1, 1], "SAME")):
        with tf.GradientTape() as t:
            t.watch(x)
            y = pool(x)
        grads.append(t.gradient(y, x, output_gradients=dy).numpy())
    return not np.allclose(grads[0], grads[1], rtol=1e-6, atol=1e-9)


def demo_window_larger_empty() -> bool:
    """A 3x3 window on a 2x2 input, VALID: the rule's output size is 0 and TF returns an empty output."""
    tf = _tf()
    y = tf.nn.conv2d(_normal((1, 2, 2, 1)), _normal((3, 3, 1, 1)), 1, "VALID")
    p = tf.nn.avg_pool2d(_normal((1, 2, 2, 1)), 3, 1, "VALID")
    return 0 in y.shape and 0 in p.shape


MAXPOOL_EMPTY = """
import os; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import numpy as np, tensorflow as tf
for _ in range(20):
    x = tf.constant(np.arange(64, dtype='float32').reshape(1, 8, 8, 1) + 1)
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.nn.max_pool2d(x, 9, 1, 'VALID')
    g = t.gradient(y, x, output_gradients=tf.zeros_like(y)).numpy()
    if y.shape[1] == 0 and not np.all(g == 0):
        print('uninitialised')
        break
"""


def demo_maxpool_empty_window() -> bool:
    """In a child process: an empty max-pool output's gradient is not 0 (uninitialised memory) in
    one of 20 tries, or the process dies (the SIGFPE of TF #125509)."""
    proc = run_script(MAXPOOL_EMPTY)
    return proc.returncode < 0 or "uninitialised" in proc.stdout


ONEDNN_ABORT = """
import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import numpy as np, tensorflow as tf
x, w = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32)
try:
    if sys.argv[1] == 'rank':
        tf.nn.conv2d(x[0], w, 1, 'SAME')
    else:
        tf.nn.conv2d(x, w, 2 ** 31, 'SAME')
except Exception as e:
    print('refused', type(e).__name__)
"""


def _child_aborts(mode: str) -> bool:
    """Whether ONEDNN_ABORT's call in ``mode`` kills a child process (this process's backend, inherited)."""
    proc = run_script(ONEDNN_ABORT, mode)
    return proc.returncode < 0 and "refused" not in proc.stdout


def demo_onednn_empty_tensor() -> bool:
    """float32 tf.nn.conv2d on an empty batch returns its input unchanged (shape (0, 5, 5, 2) for
    (0, 5, 5, 4)), and a filter with no output channels is refused."""
    tf = _tf()
    y = tf.nn.conv2d(np.ones((0, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32), 1, "SAME")
    return tuple(y.shape) != (0, 5, 5, 4) and _raises(
        lambda: tf.nn.conv2d(np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 0), np.float32), 1, "SAME"))


def demo_onednn_single_channel_strided_width() -> bool:
    """Input (2, 3, 5, 1), filter (1, 5, 1, 2), strides (1, 4), VALID: float32 differs from float64 by more than 1."""
    tf = _tf()
    x, w = _normal((2, 3, 5, 1)), _normal((1, 5, 1, 2), seed=1)
    y32 = tf.nn.conv2d(x.astype(np.float32), w.astype(np.float32), [1, 4], "VALID").numpy()
    y64 = tf.nn.conv2d(x, w, [1, 4], "VALID").numpy()
    return bool(np.max(np.abs(y32 - y64)) > 1.0)


def demo_onednn_batch_channel_pads() -> bool:
    tf = _tf()
    call = lambda: tf.nn.conv2d(np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 4), np.float32), 1,  # noqa: E731
                                [[1, 0], [1, 1], [1, 1], [0, 1]])
    return not _raises(call) and tuple(call().shape) == (1, 5, 5, 4)


def demo_integer_inputs() -> bool:
    tf = _tf()
    y = tf.nn.conv2d(np.ones((1, 3, 3, 1), np.int32), np.ones((2, 2, 1, 1), np.int32), 1, "VALID")
    return y.dtype == tf.int32 and tf.nn.max_pool2d(np.ones((1, 3, 3, 1), np.int32), 2, 1, "VALID").shape == (1, 2, 2, 1)


def demo_lenient_attributes() -> bool:
    tf = _tf()
    x, w = np.ones((1, 5, 5, 1), np.float32), np.ones((3, 3, 1, 1), np.float32)
    return tf.nn.conv2d(x, w, True, "SAME").shape == (1, 5, 5, 1) and tf.nn.conv2d(x, w, 1.5, "SAME").shape == (1, 5, 5, 1)


def demo_sce_labels() -> bool:
    """Labels summing to 2: TF's d_logits is still softmax - labels (the true one: 2 softmax - labels)."""
    tf = _tf()
    labels, logits = tf.constant([[1.0, 1.0, 0.0]], tf.float64), tf.constant([[0.5, -1.0, 2.0]], tf.float64)
    with tf.GradientTape() as t:
        t.watch(logits)
        loss = tf.nn.softmax_cross_entropy_with_logits(labels, logits)
    g = t.gradient(loss, logits).numpy()
    return np.allclose(g, tf.nn.softmax(logits).numpy() - labels.numpy())


def demo_maxpool_nan() -> bool:
    """Window [NaN, 1, 3]: the forward is 3 (NaN ignored) but the gradient goes to the NaN cell."""
    tf = _tf()
    x = tf.constant(np.array([np.nan, 1.0, 3.0]).reshape(1, 1, 3, 1))
    with tf.GradientTape() as t:
        t.watch(x)
        y = tf.nn.max_pool2d(x, [1, 3], 1, "VALID")
    g = t.gradient(y, x).numpy().reshape(-1)
    return float(y.numpy().reshape(-1)[0]) == 3.0 and g[0] == 1.0 and g[2] == 0.0


def demo_leaky_alpha() -> bool:
    tf = _tf()
    y = tf.nn.leaky_relu(tf.constant([-1.0], tf.float64), alpha=0.2).numpy()[0]
    return y == -float(np.float32(0.2)) and y != -0.2


def demo_conv_channelless_input() -> bool:
    """float64 (Eigen's kernels on both backends): input (1, 5, 5, 0), filters (3, 3, 2, 2): the forward
    computes zeros of shape (1, 5, 5, 2), the gradient of the same call raises."""
    tf = _tf()
    x, w = tf.constant(np.ones((1, 5, 5, 0))), tf.constant(np.ones((3, 3, 2, 2)))
    with tf.GradientTape() as t:
        t.watch([x, w])
        y = tf.nn.conv2d(x, w, 1, "SAME")
    return tuple(y.shape) == (1, 5, 5, 2) and _raises(lambda: t.gradient(y, [x, w], output_gradients=tf.ones_like(y)))


def demo_elu_exp_minus_one() -> bool:
    """float32 elu(-1e-5): TensorFlow's relative error is above 1e-4 (expm1 would be exact to 1e-7)."""
    x = np.float32(-1e-5)
    y = float(_tf().nn.elu(np.array([x])).numpy()[0])
    return abs(y - np.expm1(np.float64(x))) / abs(np.expm1(np.float64(x))) > 1e-4


def demo_keras_optimizer() -> bool:
    keras = keras_module()
    v = keras.Variable(np.array([1.0]), dtype="float64")
    opt = keras.optimizers.SGD(learning_rate=0.1)
    opt.apply([keras.ops.convert_to_tensor(np.array([1.0]))], [v])
    return float(v.numpy()[0]) == 1.0 - float(np.float32(0.1)) and float(v.numpy()[0]) != 0.9


def demo_onednn_malformed_call_abort() -> bool:
    return _child_aborts("rank")


def demo_onednn_int32_attribute_abort() -> bool:
    return _child_aborts("int32")


def demo_flush_to_zero() -> bool:
    return float(_tf().math.sigmoid(np.float32(-103.0)).numpy()) == 0.0


def demo_depthwise_empty_kernel() -> bool:
    """float64: Eigen's kernel on both backends."""
    return _tf().nn.depthwise_conv2d(np.ones((1, 5, 5, 2)), np.ones((0, 2, 2, 1)), [1, 1, 1, 1],
                                     "SAME").shape == (1, 5, 5, 2)


def demo_mixed_float_dtypes() -> bool:
    tf = _tf()
    return tf.nn.conv2d(np.ones((1, 3, 3, 1), np.float32), np.ones((2, 2, 1, 1)), 1, "VALID").dtype == tf.float32
