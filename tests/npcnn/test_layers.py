"""npcnn layers against Keras 3 layers holding the same weights, in float64.

Forward outputs, input gradients and every trainable-weight gradient are compared, with random
upstream gradients (GradientTape ``output_gradients``). Weights are copied into Keras *by name*, so
the test also checks that npcnn uses Keras's weight names, shapes and order.
"""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from npcnn import initializers, layers as L  # noqa: E402
from npcnn.functional import dropout_mask  # noqa: E402

RTOL, ATOL = 1e-10, 1e-12  # float64: sums of a few hundred terms

# (npcnn layer factory, keras layer factory, input shape NHWC or (N, F))
CASES = {
    "conv_valid": (lambda: L.Conv2D(4, 3), lambda: keras.layers.Conv2D(4, 3, dtype="float64"), (2, 7, 6, 3)),
    "conv_same_strided_relu": (
        lambda: L.Conv2D(5, (3, 2), strides=2, padding="same", activation="relu"),
        lambda: keras.layers.Conv2D(5, (3, 2), strides=2, padding="same", activation="relu", dtype="float64"),
        (2, 9, 8, 3)),
    "conv_dilated_nobias": (
        lambda: L.Conv2D(3, 3, padding="same", dilation_rate=2, use_bias=False),
        lambda: keras.layers.Conv2D(3, 3, padding="same", dilation_rate=2, use_bias=False, dtype="float64"),
        (2, 9, 9, 2)),
    "conv_groups": (
        lambda: L.Conv2D(6, (2, 3), groups=3, activation="leaky_relu"),
        lambda: keras.layers.Conv2D(6, (2, 3), groups=3, activation="leaky_relu", dtype="float64"), (2, 5, 6, 6)),
    "conv_transpose_output_padding": (
        lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=1),
        lambda: keras.layers.Conv2DTranspose(2, 3, strides=2, output_padding=1, dtype="float64"), (2, 3, 4, 3)),
    "conv_transpose_same_s2": (
        lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"),
        lambda: keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", dtype="float64"), (2, 4, 5, 2)),
    "conv_transpose_valid_s3_k2": (
        lambda: L.Conv2DTranspose(2, 2, strides=3, activation="tanh"),
        lambda: keras.layers.Conv2DTranspose(2, 2, strides=3, activation="tanh", dtype="float64"), (2, 3, 4, 3)),
    "depthwise_same_mult2": (
        lambda: L.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
        lambda: keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, dtype="float64"),
        (2, 6, 6, 3)),
    "depthwise_valid_s2": (
        lambda: L.DepthwiseConv2D((3, 2), strides=2),
        lambda: keras.layers.DepthwiseConv2D((3, 2), strides=2, dtype="float64"), (2, 8, 7, 2)),
    "maxpool_default": (lambda: L.MaxPooling2D(), lambda: keras.layers.MaxPooling2D(dtype="float64"), (2, 7, 6, 3)),
    "maxpool_same_overlap": (
        lambda: L.MaxPooling2D(3, 2, padding="same"),
        lambda: keras.layers.MaxPooling2D(3, 2, padding="same", dtype="float64"), (2, 7, 6, 2)),
    "avgpool_same": (
        lambda: L.AveragePooling2D(3, 2, padding="same"),
        lambda: keras.layers.AveragePooling2D(3, 2, padding="same", dtype="float64"), (2, 7, 6, 2)),
    "global_avgpool": (lambda: L.GlobalAveragePooling2D(),
                       lambda: keras.layers.GlobalAveragePooling2D(dtype="float64"), (3, 4, 5, 6)),
    "dense_relu": (lambda: L.Dense(7, activation="relu"),
                   lambda: keras.layers.Dense(7, activation="relu", dtype="float64"), (4, 10)),
    "dense_4d_softmax": (lambda: L.Dense(3, activation="softmax"),
                         lambda: keras.layers.Dense(3, activation="softmax", dtype="float64"), (2, 3, 2, 4)),
    "flatten": (lambda: L.Flatten(), lambda: keras.layers.Flatten(dtype="float64"), (2, 3, 4, 5)),
    **{f"activation_{name}": (lambda name=name: L.Activation(name),
                              lambda name=name: keras.layers.Activation(name, dtype="float64"), (2, 3, 3, 2))
       for name in L.ACTIVATIONS if name is not None},
    "relu": (lambda: L.ReLU(), lambda: keras.layers.ReLU(dtype="float64"), (2, 3, 3, 2)),
    "relu_negative_slope": (lambda: L.ReLU(negative_slope=0.3),
                            lambda: keras.layers.ReLU(negative_slope=0.3, dtype="float64"), (3, 6)),
    "group_norm": (lambda: L.GroupNormalization(2), lambda: keras.layers.GroupNormalization(2, dtype="float64"),
                   (2, 3, 4, 6)),
    "layer_norm": (lambda: L.LayerNormalization(), lambda: keras.layers.LayerNormalization(dtype="float64"),
                   (2, 3, 4, 5)),
}


def randomize(layer, rng):
    """Replace every weight by random values so that gamma=1 / bias=0 defaults cannot hide errors."""
    for name, p in layer.params.items():
        values = rng.uniform(0.5, 1.5, p.shape) if name == "moving_variance" else rng.standard_normal(p.shape)
        p[...] = values


def copy_into_keras(ours, theirs, input_shape):
    theirs.build(input_shape)
    names = [v.name for v in theirs.weights]
    assert names == list(ours.params), f"weight names/order differ: keras {names}, npcnn {list(ours.params)}"
    for v in theirs.weights:
        assert tuple(v.shape) == ours.params[v.name].shape, v.name
        v.assign(ours.params[v.name])
    assert [v.name for v in theirs.trainable_weights] == list(ours.trainable)


def keras_run(layer, x, dy, training):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=training)
    grads = tape.gradient(y, [xt] + layer.trainable_weights, output_gradients=tf.constant(dy))
    return y.numpy(), grads[0].numpy(), {v.name: g.numpy() for v, g in zip(layer.trainable_weights, grads[1:])}


def compare(ours, theirs, x, training, rng):
    input_shape = (None,) + x.shape[1:]
    ours.build(input_shape, "float64", seed=0)
    randomize(ours, rng)
    copy_into_keras(ours, theirs, input_shape)
    y = ours.forward(x, training=training)
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    ky, kdx, kgrads = keras_run(theirs, x, dy, training)
    assert y.dtype == dx.dtype == np.float64
    assert ours.compute_output_shape(input_shape)[1:] == y.shape[1:] == ky.shape[1:]
    np.testing.assert_allclose(y, ky, rtol=RTOL, atol=ATOL, err_msg=f"{ours.name}: output")
    np.testing.assert_allclose(dx, kdx, rtol=RTOL, atol=ATOL, err_msg=f"{ours.name}: d_input")
    assert set(ours.grads) == set(kgrads)
    for name, g in kgrads.items():
        np.testing.assert_allclose(ours.grads[name], g, rtol=RTOL, atol=ATOL, err_msg=f"{ours.name}: d_{name}")
    return theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_keras(case):
    make_ours, make_theirs, shape = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    x = rng.permutation(np.prod(shape)).reshape(shape) / np.prod(shape) - 0.5  # tie-free for max-pool
    compare(make_ours(), make_theirs(), x, training=False, rng=rng)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape,config", [((4, 3, 3, 5), {}), ((6, 4), {"momentum": 0.8}),
                                          ((3, 2, 2, 3), {"center": False, "scale": False, "epsilon": 0.1})])
def test_batch_normalization_matches_keras(training, shape, config):
    rng = np.random.default_rng(len(shape) + training)
    x = rng.standard_normal(shape) * 2 + 1
    ours, theirs = L.BatchNormalization(**config), keras.layers.BatchNormalization(dtype="float64", **config)
    compare(ours, theirs, x, training, rng)
    for name in ("moving_mean", "moving_variance"):
        np.testing.assert_allclose(ours.params[name], theirs.weights[[v.name for v in theirs.weights].index(name)]
                                   .numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_batch_normalization_moving_variance_is_biased():
    """Keras 3 updates the moving variance with the biased (divide by N) batch variance."""
    x = np.random.default_rng(0).standard_normal((5, 3))
    bn = L.BatchNormalization(momentum=0.0).build((None, 3), "float64")
    bn.forward(x, training=True)
    np.testing.assert_allclose(bn.params["moving_variance"], x.var(axis=0, ddof=0), rtol=1e-14)
    np.testing.assert_allclose(bn.params["moving_mean"], x.mean(axis=0), rtol=1e-14)


def test_dropout_training_and_inference():
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal((4, 3, 3, 2))
    layer = L.Dropout(0.25, seed=7).build((None, 3, 3, 2), "float64")
    assert layer.forward(x, training=False) is x
    y = layer.forward(x, training=True)
    keep = y != 0
    assert 0.5 < keep.mean() < 0.95
    np.testing.assert_allclose(y[keep], x[keep] / 0.75, rtol=1e-15)
    np.testing.assert_allclose(layer.backward(dy), np.where(keep, dy / 0.75, 0.0), rtol=1e-15, atol=0)
    assert not np.array_equal(layer.forward(x, training=True) != 0, keep), "each call draws a new mask"
    assert keep.shape == dropout_mask(x.shape, 0.25, 0).shape


def test_float32_layers_stay_float32():
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    for layer in (L.Conv2D(2, 3, activation="relu"), L.BatchNormalization(), L.DepthwiseConv2D(3),
                  L.Conv2DTranspose(2, 3, strides=2)):
        layer.build((None, 6, 6, 3), "float32", seed=0)
        y = layer.forward(x, training=True)
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == dx.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values()), layer.name
    with pytest.raises(TypeError, match="float32"):
        L.Conv2D(2, 3).build((None, 6, 6, 3), "float32").forward(x.astype(np.float64))


def test_clear_errors():
    with pytest.raises(ValueError, match="channels-last"):
        L.Conv2D(2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="channels-last"):
        L.MaxPooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="4-D"):
        L.Conv2D(2, 3).build((None, 5, 3))
    with pytest.raises(ValueError, match="window larger"):
        L.Conv2D(2, 5).build((None, 3, 3, 1))
    with pytest.raises(RuntimeError, match="before forward"):
        L.Dense(2).build((None, 3)).backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match="built for input shape"):
        L.Dense(2).build((None, 3)).forward(np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        L.Dense(2, activation="swishy")
    with pytest.raises(ValueError, match="divisible by groups"):
        L.GroupNormalization(4).build((None, 2, 2, 6))


# --- initializers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(7,), (5, 3), (3, 3, 4, 8), (2, 5, 3, 1, 6)])
def test_fans_match_keras(shape):
    from keras.src.initializers.random_initializers import compute_fans
    assert initializers.compute_fans(shape) == compute_fans(shape)


def test_glorot_uniform_bounds_and_spread():
    shape = (3, 3, 16, 32)
    limit = np.sqrt(6 / (3 * 3 * 16 + 3 * 3 * 32))
    w = initializers.get("glorot_uniform")(shape, "float32", np.random.default_rng(0))
    assert w.dtype == np.float32 and w.shape == shape
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() / (limit / np.sqrt(3)) - 1) < 0.03


def test_he_normal_is_keras_truncated_normal():
    shape = (3, 3, 32, 64)
    fan_in = 3 * 3 * 32
    w = initializers.get("he_normal")(shape, "float64", np.random.default_rng(0))
    keras_w = keras.initializers.HeNormal(seed=0)(shape, dtype="float64").numpy()
    cut = 2 * np.sqrt(2 / fan_in) / 0.87962566103423978
    for sample in (w, keras_w):
        assert np.abs(sample).max() <= cut and np.abs(sample).max() > 0.98 * cut
        assert abs(sample.std() / np.sqrt(2 / fan_in) - 1) < 0.03


def test_initializers_are_seeded_and_named():
    a = initializers.get("he_normal")((4, 4), "float64", np.random.default_rng(3))
    b = initializers.get("he_normal")((4, 4), "float64", np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.all(initializers.get("zeros")((2, 2)) == 0) and np.all(initializers.get("ones")((2,)) == 1)
    with pytest.raises(ValueError, match="unknown initializer"):
        initializers.get("lecun_magic")
    conv1 = L.Conv2D(3, 3).build((None, 5, 5, 2), seed=1)
    conv2 = L.Conv2D(3, 3).build((None, 5, 5, 2), seed=1)
    np.testing.assert_array_equal(conv1.params["kernel"], conv2.params["kernel"])
