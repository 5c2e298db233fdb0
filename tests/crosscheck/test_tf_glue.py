"""crosscheck.oracle.tf_glue's shortcut for TF's eager make_attr returns what TF's own function
returns, for every attribute of every op the reference paths run (recorded from real tapes)."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from crosscheck.oracle import tf_lib  # noqa: E402,F401  (installs the shim)
from tensorflow.python.eager import backprop  # noqa: E402


def test_the_shim_is_installed_once():
    from crosscheck.oracle import tf_glue
    assert backprop.make_attr.crosscheck_shim
    shim = backprop.make_attr
    tf_glue.install()
    assert backprop.make_attr is shim


def _recorded_attrs():
    """Every (op type, attr name, value) the gradient functions read while taping a few conv,
    pooling and normalisation paths."""
    seen = []
    original_get_attr = backprop._MockOp.get_attr

    def recording(self, attr):
        for i in range(0, len(self.attrs), 2):
            if self.attrs[i] == attr:
                seen.append((self.type, attr, self.attrs[i + 1]))
        return original_get_attr(self, attr)

    backprop._MockOp.get_attr = recording
    try:
        rng = np.random.default_rng(0)
        x = tf.constant(rng.standard_normal((2, 7, 6, 4)))
        w = tf.constant(rng.standard_normal((3, 2, 2, 4)))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, w])
            ys = [tf.nn.conv2d(x[..., :2], w, [1, 2, 1, 1], [[0, 0], [1, 2], [0, 1], [0, 0]]),
                  tf.nn.max_pool2d(x, 3, 2, "SAME"), tf.nn.avg_pool2d(x, 2, 1, "VALID"),
                  tf.nn.depthwise_conv2d(x, tf.reshape(w, [3, 2, 4, 2]), [1, 1, 1, 1], "SAME"),
                  tf.transpose(x, [0, 3, 1, 2]), tf.nn.leaky_relu(x, 0.3), tf.reduce_mean(x, axis=[1, 2]),
                  tf.concat(tf.split(x, 2, axis=-1), axis=-1)]
        for y in ys:
            tape.gradient(y, [x, w], output_gradients=tf.ones_like(y))
    finally:
        backprop._MockOp.get_attr = original_get_attr
    return seen


def test_the_shim_agrees_with_tensorflows_make_attr_on_every_attribute_the_paths_read():
    seen = _recorded_attrs()
    assert {"Conv2D", "MaxPool", "AvgPool", "DepthwiseConv2dNative", "LeakyRelu"} <= {op for op, _, _ in seen}
    numeric = 0
    for op, attr, value in seen:
        typ = backprop.op_attr_type(op, attr)
        ours, theirs = backprop.make_attr(typ, value), backprop.make_attr.original(typ, value)
        assert type(ours) is type(theirs) and ours == theirs, (op, attr, value)
        numeric += isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value)
    assert numeric > 0     # strides, dilations, ksize: the attributes the shortcut is for


def test_numeric_attributes_skip_nest_and_others_still_use_it(monkeypatch):
    def no_nest(*args, **kwargs):
        raise AssertionError("nest.map_structure called")
    monkeypatch.setattr(backprop.nest, "map_structure", no_nest)
    assert backprop.make_attr([1], [1, 2, 2, 1]) == [1, 2, 2, 1]        # list(int): the shortcut
    assert backprop.make_attr(3, True) is True                          # bool
    with pytest.raises(AssertionError, match="nest"):
        backprop.make_attr.original([1], [1, 2, 2, 1])                  # TF's own function walks it
    with pytest.raises(AssertionError, match="nest"):
        backprop.make_attr(0, "SAME")                                   # a string goes to TF's function


@pytest.mark.parametrize("typ, value", [([4], [1, 2]), (4, 1), ([5], [[1, 2]]), (5, [1, 2]), (0, "SAME"), ([0], ["a"]),
                                        ([1], [1, "x"]), (1, np.int64(3)), ([1], (1, 2)), ([2], [0.5]), (3, True)])
def test_every_other_attribute_goes_to_tensorflows_own_function(typ, value):
    ours, theirs = backprop.make_attr(typ, value), backprop.make_attr.original(typ, value)
    assert type(ours) is type(theirs)
    assert ours == theirs
