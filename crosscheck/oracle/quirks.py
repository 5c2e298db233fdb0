"""The TensorFlow quirks crosscheck knows: the only reasons a case may be "reference-unsupported".

Each :class:`Quirk` has an id, the ops it concerns, a predicate on the (resolved) case, what
TensorFlow does, the TensorFlow issue where one exists, crosscheck's workaround (or "refused": the
case is never handed to TensorFlow) and a demonstration that TensorFlow still behaves so, which
``tests/crosscheck/test_quirks.py`` runs for every entry. docs/tf-defects.md is generated from this
list (``python -m crosscheck.oracle.quirks``; a test keeps the two equal).

A TensorFlow error on a case no quirk covers is not a limitation: it is a ``reference-error`` and
fails the run.

Kinds: "defect" (TF gives a wrong answer), "limitation" (TF refuses on CPU), "crash" (TF kills the
process), "spec" (what TF does is not what the API crosscheck checks means; crosscheck follows its
own rule), "precision" (a rounding detail, not wrong).

Backends: each quirk holds on the CPU backends it names (:mod:`crosscheck.oracle.backend`: Eigen,
oneDNN); it concerns a case only while TensorFlow runs one of them. A ``float64_detour`` quirk is
worked around by computing the float32 case in float64 (TensorFlow's float64 kernels are Eigen's
on either backend: oneDNN computes float32 only) and rounding the result to float32.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import geometry as G
from ..opinfo import Call
from . import backend
from .backend import BACKENDS, ONEDNN

CONV_OPS = ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose")
WINDOW_OPS = CONV_OPS + ("depthwise_conv2d", "max_pool2d", "avg_pool2d")
ALL_OPS = WINDOW_OPS + ("global_avg_pool2d", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softmax", "log_softmax",
                        "dense", "dropout", "flatten", "softmax_cross_entropy_with_logits",
                        "sparse_softmax_cross_entropy_with_logits", "mean_squared_error", "batch_normalization",
                        "layer_normalization", "group_normalization", "moments")
TEST_FILE = "tests/crosscheck/test_quirks.py"


@dataclass(frozen=True)
class Quirk:
    id: str
    kind: str
    ops: tuple
    what: str
    workaround: str
    applies: Callable[[Call], bool]
    demonstrate: Callable[[], bool]
    tf_issue: str = ""
    refuses: bool = False          # never hand such a case to TensorFlow: reference-unsupported
    expect_refusal: bool = False   # error parity: the implementation must refuse it whatever TF does
    in_subprocess: bool = False    # demonstrate() kills its process
    backends: tuple = BACKENDS     # the TensorFlow CPU backends it holds on
    float64_detour: bool = False   # worked around by computing the float32 case in float64 (Eigen)

    def holds_for(self, call: Call) -> bool:
        """Whether this quirk concerns ``call`` on the backend in force (a predicate that cannot be
        evaluated does not)."""
        if call.op not in self.ops or (len(self.backends) < len(BACKENDS) and backend.in_force() not in self.backends):
            return False
        try:
            return bool(self.applies(call))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            return False

    @property
    def note(self) -> str:
        return f"quirk {self.id}: {self.workaround}"


# --------------------------------------------------------------------------------- predicates

def _groups(call: Call) -> int:
    from ..ops.conv import conv_groups
    return conv_groups(call)


def _window_fits(call: Call) -> bool:
    from ..registry import get_op
    args = get_op(call.op).geometry(call)
    if min(args.window) < 1 or min(args.strides) < 1 or min(args.dilations) < 1:
        raise ValueError("not a window")  # another rule is broken: this quirk does not concern it
    return args.fits()


def _avg_pool_defect_axes(call: Call) -> list[int]:
    """Axes with TF's AvgPoolGrad defect: SAME, window wider than the input, pad before > k - in."""
    if call.params.get("padding") != "SAME":
        return []
    x = call.arrays["input"]
    in_sizes = G.spatial_shape(x.shape, call.data_format)
    window = call.params["ksize"]
    pads = G.padtype_to_pads(in_sizes, window, call.params["strides"], (1, 1), "SAME")
    return [a for a, (n, k, (before, _)) in enumerate(zip(in_sizes, window, pads)) if k > n and before > k - n]


def _empty_window_output(call: Call) -> bool:
    """A non-empty batch whose window output has an empty H or W (SAME on an empty input axis)."""
    from ..ops._common import window_input_shape
    from ..registry import get_op
    x = window_input_shape(call)
    # an empty output needs an empty input axis (the cheap test first: this runs for every path of every case)
    return x[0] > 0 and 0 in G.spatial_shape(x, call.data_format) and 0 in get_op(call.op).geometry(call).resolve().out


#: the shape parameters of the conv ops (their arrays' shapes given as a list)
_SHAPE_PARAMS = ("input_sizes", "filter_sizes", "output_shape")


def _empty_float32_window_tensor(call: Call) -> bool:
    """A float32 window-op case with a zero-size axis in an array, dy or a shape parameter."""
    if call.dtype != "float32":
        return False
    shapes = [np.shape(a) for a in call.arrays.values() if a is not None]
    shapes += [np.shape(call.dy)] if call.dy is not None else []
    shapes += [tuple(call.params[p]) for p in _SHAPE_PARAMS if p in call.params]
    return any(0 in tuple(int(v) for v in shape) for shape in shapes)


def _single_channel_strided_width(call: Call) -> bool:
    """float32, one input channel per group (every depthwise case), a kernel wider than 1 and a width
    stride of 2 or more that leave one output column (a superset: about 1 such case in 10 goes wrong)."""
    from ..registry import get_op
    if call.dtype != "float32":
        return False
    if call.op in ("depthwise_conv2d", "avg_pool2d"):   # avg_pool2d: its reference built from tf.nn.conv2d
        filter_in = 1
    else:
        filter_in = int(call.params["filter_sizes"][2]) if "filter_sizes" in call.params else \
            np.shape(call.arrays["filters"])[2]
    window = get_op(call.op).geometry(call).resolve()
    k_eff = (window.window[1] - 1) * window.dilations[1] + 1
    return filter_in == 1 and window.strides[1] >= 2 and k_eff >= 2 and window.out[1] == 1


def _wrongly_ranked(call: Call) -> bool:
    """An input, filter or output gradient that is not 4-D, or a shape parameter that does not hold 4 sizes."""
    arrays = [call.arrays[n] for n in ("input", "filters", "out_backprop") if call.arrays.get(n) is not None]
    sizes = [call.case.params[p] for p in _SHAPE_PARAMS if p in call.case.params]
    return any(np.ndim(a) != 4 for a in arrays) or any(np.ndim(v) != 1 or len(v) != 4 for v in sizes)


def _malformed_conv_call(call: Call) -> bool:
    """Wrongly ranked (above), or strides or dilations given as a list of 3 values."""
    lists = [call.case.params.get(name) for name in ("strides", "dilations")]
    return _wrongly_ranked(call) or any(isinstance(v, (list, tuple)) and len(v) == 3 for v in lists)


def _huge_attribute(call: Call) -> bool:
    """A stride, dilation or window size of 2**31 or more (an int32 overflow in TensorFlow)."""
    def values(v):
        return [v] if isinstance(v, (int, np.integer)) else list(v) if isinstance(v, (list, tuple)) else []
    return any(isinstance(x, (int, np.integer)) and not isinstance(x, bool) and abs(int(x)) >= 2 ** 31
               for name in ("strides", "dilations", "ksize") for x in values(call.case.params.get(name, 1)))


def _batch_or_channel_pads(call: Call) -> bool:
    padding = call.case.params.get("padding")
    if not isinstance(padding, (list, tuple)) or len(padding) != 4:
        return False
    outer = (padding[0], padding[3]) if call.case.params.get("data_format", "NHWC") != "NCHW" else padding[:2]
    return any(int(v) != 0 for pair in outer for v in pair)


def _labels_not_distributions(call: Call) -> bool:
    labels = call.arrays["labels"].astype(np.float64)
    sums = labels.sum(axis=int(call.params.get("axis", -1)))
    return bool(np.any(np.abs(sums - 1) > 1e-6) or np.any(labels < 0))


# ----------------------------------------------------------------------------- demonstrations

def _tf():
    from ..tf_import import tensorflow
    return tensorflow()


def _raises(fn) -> bool:
    tf = _tf()
    try:
        fn()
    except (tf.errors.OpError, ValueError, TypeError):
        return True
    return False


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
    def run(mode, dtype):
        return subprocess.run([sys.executable, "-c", EMPTY_OUTPUT_FILTER_GRADIENT, mode, dtype], capture_output=True,
                              text=True, timeout=300)
    crash = run("crash", "float64").returncode < 0
    return crash and (backend.in_force() == ONEDNN or "uninitialised" in run("garbage", "float32").stdout)


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
    from .tf_lib import avg_pool_as_conv
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
    proc = subprocess.run([sys.executable, "-c", MAXPOOL_EMPTY], capture_output=True, text=True, timeout=300)
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
    proc = subprocess.run([sys.executable, "-c", ONEDNN_ABORT, mode], capture_output=True, text=True, timeout=300)
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


def _integer_arrays(call: Call) -> bool:
    return any(np.asarray(a).dtype.kind in "iub" for name, a in call.arrays.items() if a is not None
               and not (call.op == "sparse_softmax_cross_entropy_with_logits" and name == "labels"))


def _mixed_floats(call: Call) -> bool:
    return len({np.asarray(a).dtype for a in call.arrays.values() if a is not None
                and np.asarray(a).dtype.kind == "f"}) > 1


def _lenient_attribute(call: Call) -> bool:
    def bad(v):
        return isinstance(v, bool) or (isinstance(v, float) and not isinstance(v, bool))
    for name in ("strides", "dilations", "ksize", "axis", "axes"):
        value = call.case.params.get(name)
        if bad(value) or (isinstance(value, (list, tuple)) and any(bad(v) for v in value)):
            return True
    return False


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


def _channelless_input_channel_filter(call: Call) -> bool:
    x, w = call.arrays["input"], call.arrays["filters"]
    return np.ndim(x) == 4 and np.ndim(w) == 4 and G.channels(np.shape(x), call.data_format) == 0 and np.shape(w)[2] > 0


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
    from ..tf_import import keras_module
    keras = keras_module()
    v = keras.Variable(np.array([1.0]), dtype="float64")
    opt = keras.optimizers.SGD(learning_rate=0.1)
    opt.apply([keras.ops.convert_to_tensor(np.array([1.0]))], [v])
    return float(v.numpy()[0]) == 1.0 - float(np.float32(0.1)) and float(v.numpy()[0]) != 0.9


ONEDNN_QUIRKS: tuple[Quirk, ...] = (
    Quirk("onednn-empty-tensor", "defect", WINDOW_OPS,
          "float32 convolutions and pools with a zero-size axis (an empty batch, H, W or channel axis) go wrong: "
          "tf.nn.conv2d returns its input unchanged on an empty batch, avg_pool2d's conv formulation then fails "
          "(RealDiv: incompatible shapes), the filter gradients are wrong, and a filter with no output channels "
          "(or a channel multiplier of 0) is refused (\"filter must not have zero elements\") where Eigen computes an "
          "empty output",
          "the reference is computed in float64 (Eigen's kernels: oneDNN computes float32 only) and rounded to "
          "float32; error parity judges such a call by its float64 verdict",
          _empty_float32_window_tensor, demo_onednn_empty_tensor, backends=(ONEDNN,), float64_detour=True),
    Quirk("onednn-single-channel-strided-width", "defect", CONV_OPS + ("depthwise_conv2d", "avg_pool2d"),
          "float32 tf.nn.conv2d with one input channel (per group: depthwise's reference group by group and "
          "avg_pool2d's built from tf.nn.conv2d too), a "
          "kernel wider than 1 and a width stride of 2 or more that leave one output column returns wrong values "
          "in some such cases (input (2, 20, 14, 1), filter (2, 13, 1, 1), strides (1, 4), VALID: values near 1e29)",
          "the reference is computed in float64 (Eigen's kernels) and rounded to float32",
          _single_channel_strided_width, demo_onednn_single_channel_strided_width, backends=(ONEDNN,),
          float64_detour=True),
    Quirk("onednn-malformed-call-abort", "crash", CONV_OPS,
          "tf.nn.conv2d, conv2d_transpose and the conv2d_backprop ops abort the process (\"Check failed: index >= 0 "
          "&& index < num_total_dims\") on an input that is not 4-D, a size vector of 3 values or 3 strides, where "
          "Eigen raises InvalidArgumentError",
          "refused: never handed to TensorFlow; error parity expects the implementation to raise, as Eigen does",
          _malformed_conv_call, lambda: _child_aborts("rank"), tf_issue="TF #112555, #111453, #125511 (fixed after 2.21)",
          refuses=True, expect_refusal=True, in_subprocess=True, backends=(ONEDNN,)),
    Quirk("onednn-int32-attribute-abort", "crash", WINDOW_OPS,
          "a stride, dilation or window size of 2**31 or more aborts the process in oneDNN's graph layout pass "
          "(\"Attr strides has value 2147483648 out of range for an int32\"), float32 and float64 alike, where Eigen "
          "raises InvalidArgumentError",
          "refused: never handed to TensorFlow; error parity expects the implementation to raise, as Eigen does",
          _huge_attribute, lambda: _child_aborts("int32"), refuses=True, expect_refusal=True, in_subprocess=True,
          backends=(ONEDNN,)),
    Quirk("onednn-batch-channel-pads", "spec", CONV_OPS + ("depthwise_conv2d",),
          "nonzero explicit pads on the batch or channel axis are ignored and the convolution computed, where Eigen "
          "refuses them (\"Nonzero explicit padding in the batch or depth dimensions is not supported\")",
          "refused: the checked API refuses such pads, as TensorFlow's documentation and Eigen's kernels do; error "
          "parity expects a ValueError",
          _batch_or_channel_pads, demo_onednn_batch_channel_pads, refuses=True, expect_refusal=True,
          backends=(ONEDNN,)),
)

QUIRKS: tuple[Quirk, ...] = (
    Quirk("dilated-conv-gradient", "limitation", CONV_OPS + ("depthwise_conv2d",),
          "every dilated convolution gradient fails on CPU (\"Current CPU implementations do not yet support "
          "dilation rates larger than 1\")",
          "the reference convolves with a zero-dilated (zero-inserted) kernel without dilation",
          lambda c: max(c.params["dilations"]) > 1, demo_dilated_gradient),
    Quirk("grouped-conv-gradient", "limitation", CONV_OPS,
          "grouped-convolution gradients fail on CPU in float64 and, on Eigen, in float32 (\"Gradients for grouped "
          "convolutions are not supported on CPU\"); so does a grouped tf.nn.conv2d_transpose",
          "the reference is computed group by group and concatenated",
          lambda c: _groups(c) > 1, demo_grouped_gradient),
    Quirk("depthwise-unequal-strides", "limitation", ("depthwise_conv2d",),
          "tf.nn.depthwise_conv2d refuses unequal row and column strides on CPU (oneDNN's float32 kernel takes them)",
          "the reference is tf.nn.conv2d group by group (groups = channels)",
          lambda c: c.params["strides"][0] != c.params["strides"][1], demo_depthwise_unequal_strides),
    Quirk("depthwise-strided-dilated-size", "defect", ("depthwise_conv2d",),
          "tf.nn.depthwise_conv2d with stride > 1 and dilation > 1 returns an output of the wrong size",
          "the reference runs undilated on a zero-dilated filter (as for dilated-conv-gradient)",
          lambda c: max(c.params["strides"]) > 1 and max(c.params["dilations"]) > 1,
          demo_depthwise_strided_dilated_size, tf_issue="TF #100237"),
    Quirk("depthwise-one-dilation", "defect", ("depthwise_conv2d",),
          "tf.nn.depthwise_conv2d accepts a 1-element dilations list and returns an output of the wrong size "
          "(its documentation asks for 2 values)",
          "crosscheck always passes TensorFlow both dilation values",
          lambda c: isinstance(c.case.params.get("dilations"), list) and len(c.case.params["dilations"]) == 1,
          demo_depthwise_one_dilation),
    Quirk("depthwise-empty-batch-filter-gradient", "defect", ("depthwise_conv2d",),
          "the filter gradient of tf.nn.depthwise_conv2d on an empty batch is uninitialised memory (huge values or "
          "NaN) instead of zeros",
          "the reference is tf.nn.conv2d group by group (groups = channels), whose gradient is 0",
          lambda c: c.arrays["input"].shape[0] == 0, demo_depthwise_empty_batch),
    Quirk("depthwise-zero-multiplier-gradient", "defect", ("depthwise_conv2d",),
          "the input gradient of tf.nn.depthwise_conv2d with channel multiplier 0 (an empty output) is "
          "uninitialised memory (values like 9e223) instead of zeros",
          "the reference is tf.nn.conv2d group by group (groups = channels), whose gradient is 0",
          lambda c: c.arrays["filter"].shape[3] == 0, demo_depthwise_zero_multiplier),
    Quirk("empty-output-filter-gradient", "crash", CONV_OPS + ("depthwise_conv2d", "avg_pool2d"),
          "the filter gradient of a convolution whose output has an empty H or W (SAME on an input with an empty H "
          "or W) and a non-empty batch is uninitialised memory (huge values or NaN) instead of zeros, and with a 1x1 "
          "filter and a stride of 2 or more along the empty axis the process dies (SIGSEGV): Conv2DBackpropFilter "
          "(so conv2d's, conv2d_backprop_input's and conv2d_transpose's filter gradients, conv2d_backprop_filter "
          "itself, and the tape of avg_pool2d built from tf.nn.conv2d) and tf.nn.depthwise_conv2d's",
          "the reference is computed on the case's empty batch (the same empty sums, which TensorFlow computes as "
          "0, and never crashes on) and the batch size put back on the empty tensors",
          _empty_window_output, demo_empty_output_filter_gradient, in_subprocess=True),
    Quirk("flush-to-zero", "precision", ("sigmoid", "tanh", "elu", "softmax", "log_softmax"),
          "TensorFlow's CPU kernels flush subnormal float32 results to 0 (sigmoid(-103) is 0, not 1.4e-45)",
          "the tolerance's absolute part is never below the dtype's smallest normal number (docs/tolerances.md)",
          lambda c: c.dtype == "float32", lambda: float(_tf().math.sigmoid(np.float32(-103.0)).numpy()) == 0.0),
    Quirk("nchw-float64", "limitation", WINDOW_OPS,
          "float64 NCHW convolutions and pools raise on CPU",
          "every NCHW case is transposed to NHWC inside the taped function (gradients come back in NCHW)",
          lambda c: c.data_format == "NCHW", demo_nchw_float64),
    Quirk("sce-negative-axis", "limitation", ("softmax_cross_entropy_with_logits",),
          "tf.nn.softmax_cross_entropy_with_logits fails for a negative axis other than -1",
          "the same axis is passed as its non-negative equivalent",
          lambda c: int(c.params["axis"]) < -1, demo_sce_negative_axis),
    Quirk("avg-pool-grad-same-window", "defect", ("avg_pool2d",),
          "tf.nn.avg_pool2d's gradient (AvgPoolGrad) is wrong for SAME windows wider than the input: along an axis "
          "with k > in and pad_before > k - in it disagrees with finite differences of TF's own forward",
          "d_input is compared with the same pooling built from tf.nn.conv2d (path tape_avg_pool_as_conv) only",
          lambda c: bool(_avg_pool_defect_axes(c)), demo_avg_pool_gradient, tf_issue="TF #48773"),
    Quirk("maxpool-empty-window", "crash", ("max_pool2d",),
          "a VALID (or explicitly padded) max-pool window larger than the input gives an empty output whose "
          "gradient is uninitialised memory; TF #125509 reports that float32 kills the process with SIGFPE (not "
          "reproduced on this project's machine)",
          "refused: never handed to TensorFlow in-process; error parity expects the implementation to raise ValueError",
          lambda c: not _window_fits(c), demo_maxpool_empty_window, tf_issue="TF #125509",
          refuses=True, expect_refusal=True, in_subprocess=True),
    Quirk("window-larger-than-input", "spec", WINDOW_OPS,
          "a VALID or explicitly padded window larger than the input gives an empty output where the output-size "
          "rule gives 0 (conv2d, depthwise_conv2d, pools), and an error where it is negative",
          "refused: such a call is invalid; error parity expects the implementation to raise ValueError",
          lambda c: not _window_fits(c), demo_window_larger_empty, refuses=True, expect_refusal=True),
    Quirk("depthwise-empty-kernel", "spec", ("depthwise_conv2d",),
          "tf.nn.depthwise_conv2d computes with an empty (0 x k) kernel, where tf.nn.conv2d refuses one",
          "refused: the checked API refuses an empty kernel for every convolution; error parity expects a ValueError",
          lambda c: min(c.arrays["filter"].shape[:2]) < 1,
          lambda: _tf().nn.depthwise_conv2d(np.ones((1, 5, 5, 2)), np.ones((0, 2, 2, 1)),   # float64: Eigen's kernel
                                            [1, 1, 1, 1], "SAME").shape == (1, 5, 5, 2),
          refuses=True, expect_refusal=True),
    Quirk("conv2d-channelless-input", "spec", ("conv2d",),
          "tf.nn.conv2d computes zeros for an input with no channels and a filter with input channels (0 groups), "
          "but its gradient refuses the same call (and oneDNN's float32 kernel refuses the forward too)",
          "refused: an input with no channels is an error for the checked conv2d, as for its gradient; error parity "
          "expects a ValueError",
          _channelless_input_channel_filter, demo_conv_channelless_input, refuses=True, expect_refusal=True),
    Quirk("integer-inputs", "spec", ALL_OPS,
          "conv2d, max_pool2d, relu, leaky_relu, moments, mean_squared_error, Flatten and GlobalAveragePooling2D "
          "compute on integer tensors",
          "refused: the checked API computes in float32 / float64 only; error parity expects a TypeError",
          _integer_arrays, demo_integer_inputs, refuses=True, expect_refusal=True),
    Quirk("lenient-integer-attributes", "spec", ALL_OPS,
          "strides, dilations and ksize given as True or 1.5, and a softmax axis of 1.0 where no transpose is needed, "
          "are converted to ints silently",
          "refused: the checked API takes ints only; error parity expects a TypeError",
          _lenient_attribute, demo_lenient_attributes, refuses=True, expect_refusal=True),
    Quirk("mixed-float-dtypes", "spec", ALL_OPS,
          "a NumPy float64 array given beside a float32 one is converted silently (tf.nn.conv2d computes in float32)",
          "refused: the checked API keeps one dtype per call (no silent float64 in a float32 path)",
          _mixed_floats, lambda: _tf().nn.conv2d(np.ones((1, 3, 3, 1), np.float32), np.ones((2, 2, 1, 1)), 1,
                                                "VALID").dtype == _tf().float32,
          refuses=True, expect_refusal=True),
    Quirk("sce-labels-not-distributions", "defect", ("softmax_cross_entropy_with_logits",),
          "d_logits is softmax - labels whatever the labels sum to; the true derivative is "
          "softmax * sum(labels) - labels",
          "npcnn means what TensorFlow means (documented); strategies draw labels that are distributions",
          _labels_not_distributions, demo_sce_labels),
    Quirk("maxpool-nan-gradient", "defect", ("max_pool2d",),
          "the forward ignores NaN, but the gradient goes to a window's first valid cell when that cell is NaN, "
          "although the forward value came from another cell",
          "TensorFlow's rule is the spec (npcnn copies it, documented); max_pool2d's extreme cases include NaN",
          lambda c: bool(np.isnan(c.arrays["input"]).any()), demo_maxpool_nan),
    Quirk("elu-exp-minus-one", "precision", ("elu",),
          "tf.nn.elu computes exp(x) - 1 below 0, not expm1(x): near 0 a float32 result keeps an absolute error of "
          "float32's eps (elu(-1e-5) is 1e-3 off, relative), and the gradient dy * (y + 1) one of |dy| eps",
          "the tolerance of elu's y counts exp(x), and of its gradient |dy|, as the size of the terms that cancel "
          "(docs/tolerances.md): an expm1 implementation and an exp(x) - 1 one both pass",
          lambda c: c.dtype == "float32" and bool(np.any(np.asarray(c.arrays["features"]) < 0)),
          demo_elu_exp_minus_one),
    Quirk("leaky-relu-alpha-float32", "precision", ("leaky_relu",),
          "tf.nn.leaky_relu stores alpha as a float32 attribute: float64 inputs use float64(float32(alpha))",
          "npcnn rounds alpha the same way; nothing to work around",
          lambda c: c.dtype == "float64", demo_leaky_alpha),
    Quirk("keras-optimizer-float32", "precision", ("network",),
          "Keras 3 optimizers keep the learning rate in a float32 variable (default floatx) even for float64 weights",
          "npcnn's optimizers round the same way, so network parity holds to 1e-12",
          lambda c: True, demo_keras_optimizer),
) + ONEDNN_QUIRKS

BY_ID = {q.id: q for q in QUIRKS}


def quirk(quirk_id: str) -> Quirk:
    return BY_ID[quirk_id]


def applies(quirk_id: str, call: Call) -> bool:
    return BY_ID[quirk_id].holds_for(call)


def refusing(call: Call) -> Quirk | None:
    """The first quirk that makes the case one TensorFlow must not be handed."""
    return next((q for q in QUIRKS if q.refuses and q.holds_for(call)), None)


def float64_detour(call: Call) -> Quirk | None:
    """The quirk under which the float32 reference of ``call`` is computed in float64 (None: no detour)."""
    return next((q for q in QUIRKS if q.float64_detour and q.holds_for(call)), None)


def expected_refusal(call: Call) -> Quirk | None:
    """The quirk under which error parity expects a refusal whatever TensorFlow does."""
    return next((q for q in QUIRKS if q.expect_refusal and q.holds_for(call)), None)


def workaround_notes(call: Call) -> list[str]:
    """One note per quirk whose workaround the reference of ``call`` uses."""
    return [q.note for q in QUIRKS if not q.refuses and q.kind in ("limitation", "defect", "crash") and q.holds_for(call)]


# ------------------------------------------------------------------------------- the docs table

def markdown() -> str:
    """docs/tf-defects.md, generated from :data:`QUIRKS`."""
    lines = ["# TensorFlow quirks crosscheck knows",
             "",
             "Generated from `crosscheck/oracle/quirks.py` by `python -m crosscheck.oracle.quirks > docs/tf-defects.md`"
             " (a test keeps this file equal to the registry). Measured on tensorflow-cpu 2.21 / Keras 3.15, CPU.",
             "",
             "TensorFlow has two CPU backends: its Eigen kernels, and its oneDNN kernels, which it runs by default on "
             "Linux x86 CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX (`TF_ENABLE_ONEDNN_OPTS=0` or `1` chooses). "
             "crosscheck's reference is Eigen unless told otherwise (`--tf-backend`). The *backends* column says where "
             "each quirk holds; its demonstration is run on both, and must show on those and only those. TensorFlow's "
             "float64 kernels are Eigen's on both backends (oneDNN computes float32), so a oneDNN defect is worked "
             "around by computing the float32 case in float64.",
             "",
             "These are the only reasons a case may be *reference-unsupported*. Any other error TensorFlow raises "
             "on a generated case is a *reference-error*, which fails the run. Every entry has a demonstration "
             f"that TensorFlow still behaves so: `{TEST_FILE}::test_quirk_still_holds[<id>]`.",
             "",
             "Kinds: **defect** (TensorFlow gives a wrong answer), **limitation** (it refuses on CPU), **crash** "
             "(it kills the process), **spec** (what it does is not what the checked API means; crosscheck follows "
             "the documented rule), **precision** (a rounding detail).",
             "",
             "| id | kind | backends | ops | what TensorFlow does | crosscheck's answer | TF issue |",
             "|---|---|---|---|---|---|---|"]
    for q in QUIRKS:
        lines.append(f"| `{q.id}` | {q.kind} | {', '.join(q.backends)} | {', '.join(q.ops)} | {q.what} | "
                     f"{q.workaround} | {q.tf_issue or '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
