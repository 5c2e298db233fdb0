"""Bad input to npcnn is refused with a TypeError/ValueError that names the argument, or answered
correctly; nothing is silently wrong, nothing costs more than the input justifies.

One test per kind of bad call: layers and models (Keras's argument checks are the bar), optimizers,
arrays (None, ragged, big-endian), pooling/conv windows far larger than the input, vjp's keyword
arrays, saved-model files, MNIST labels.
"""
import json
import zipfile

import numpy as np
import pytest

import npcnn
from npcnn import datasets, layers, models, optimizers
from npcnn import functional as F
from npcnn import padding as P

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 7, 7, 3))
W = RNG.standard_normal((3, 3, 3, 4))


@pytest.mark.parametrize("make, error, words", [
    (lambda: layers.Conv2D(2.7, 3), TypeError, "filters must be an int"),
    (lambda: layers.Conv2D("8", 3), TypeError, "filters must be an int"),
    (lambda: layers.Conv2D(True, 3), TypeError, "filters must be an int"),
    (lambda: layers.Conv2D(0, 3), ValueError, "filters must be an int >= 1"),
    (lambda: layers.Conv2D(8, True), TypeError, "kernel_size"),
    (lambda: layers.Conv2D(8, 3, groups=1.5), TypeError, "groups"),
    (lambda: layers.Conv2DTranspose(2.7, 3), TypeError, "filters"),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2.5), TypeError, "depth_multiplier"),
    (lambda: layers.Dense(True), TypeError, "units"),
    (lambda: layers.Dense("8"), TypeError, "units"),
    (lambda: layers.Dense(-3), ValueError, "units"),
    (lambda: layers.Dropout("0.5"), TypeError, "rate"),
    (lambda: layers.Dropout(1.0), ValueError, "rate"),
    (lambda: layers.Dropout(float("nan")), ValueError, "rate"),
    (lambda: layers.ReLU(negative_slope=float("nan")), ValueError, "negative_slope"),
    (lambda: layers.BatchNormalization(momentum=1.5), ValueError, "momentum"),
    (lambda: layers.BatchNormalization(epsilon=-1e-3), ValueError, "epsilon"),
    (lambda: layers.BatchNormalization(axis=True), ValueError, "axis"),
    (lambda: layers.GroupNormalization(groups=2.5), TypeError, "groups"),
    (lambda: layers.MaxPooling2D(2.5), TypeError, "pool_size"),
    (lambda: layers.MaxPooling2D(True), TypeError, "pool_size"),
    (lambda: layers.Dense(3).build((None, True)), TypeError, "input_shape"),
    (lambda: layers.Dense(3).build((None, 4.0)), TypeError, "input_shape"),
])
def test_layer_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()


def _compiled_model():
    model = models.Sequential([layers.Flatten(), layers.Dense(3)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("batch_size, error", [(-1, ValueError), (0, ValueError), (2.5, TypeError),
                                               ("4", TypeError), (True, TypeError)])
def test_fit_and_predict_check_batch_size(batch_size, error):
    x, y = RNG.random((8, 4, 4, 1)).astype("float32"), np.arange(8) % 3
    model = _compiled_model()
    with pytest.raises(error, match="batch_size"):
        model.fit(x, y, batch_size=batch_size, verbose=0)
    with pytest.raises(error, match="batch_size"):
        model.predict(x, batch_size=batch_size)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(x, y, epochs=-1, verbose=0)


def test_fit_on_no_examples_is_refused_and_predict_returns_empty():
    model = _compiled_model()
    empty = np.zeros((0, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="no examples"):
        model.fit(empty, np.zeros(0, int), verbose=0)
    model.build((None, 4, 4, 1))
    assert model.predict(empty).shape == (0, 3)


def test_optimizer_refuses_integer_parameters():
    params = {"w": np.ones(3, np.int64)}
    with pytest.raises(TypeError, match="'w' has dtype int64"):
        optimizers.SGD(0.5).apply({"w": np.ones(3, np.int64)}, params)
    assert params["w"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("name, kwargs, words", [
    ("SGD", {"learning_rate": float("nan")}, "learning_rate"),
    ("SGD", {"learning_rate": float("inf")}, "learning_rate"),
    ("SGD", {"learning_rate": "0.1"}, "learning_rate"),
    ("SGD", {"momentum": float("nan")}, "momentum"),
    ("Adam", {"beta_1": 1.0}, "beta_1"),
    ("Adam", {"beta_2": 1.0}, "beta_2"),
    ("Adam", {"beta_1": float("nan")}, "beta_1"),
    ("Adam", {"epsilon": -1}, "epsilon"),
    ("Adam", {"epsilon": float("inf")}, "epsilon"),
    ("RMSprop", {"rho": float("nan")}, "rho"),
    ("RMSprop", {"epsilon": -1}, "epsilon"),
    ("RMSprop", {"momentum": float("inf")}, "momentum"),
])
def test_optimizer_hyperparameters_are_checked(name, kwargs, words):
    with pytest.raises((ValueError, TypeError), match=f"{name}: {words}"):
        getattr(optimizers, name)(**kwargs)


def test_arrays_none_ragged_and_big_endian():
    for call in (lambda: F.conv2d(None, W), lambda: npcnn.vjp("conv2d", None, W)):
        with pytest.raises(TypeError, match="input must be an array, got None"):
            call()
    with pytest.raises(TypeError, match="filters must be an array"):
        F.conv2d(X, None)
    with pytest.raises(ValueError, match="input must be a rectangular array"):
        F.conv2d([[1.0, 2.0], [3.0]], W)
    big = X.astype(">f8")
    np.testing.assert_array_equal(F.conv2d(big, W.astype(">f8")), F.conv2d(X, W))
    y, pullback = npcnn.vjp("relu", big)
    assert y.dtype == np.float64 and pullback(np.ones_like(y))[0].dtype == np.float64


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv2d(X, W, padding="\u017fame"), ValueError, "padding"),   # 'ſ'.upper() == 'S'
    (lambda: F.softmax(X, axis="1"), TypeError, "axis"),
    (lambda: F.softmax(X, axis=True), TypeError, "axis"),
    (lambda: F.conv2d(X, W, strides=True), TypeError, "strides"),
    (lambda: F.max_pool2d(X, True, 1), TypeError, "ksize"),
    (lambda: F.dropout(X, 0.5, seed=-1), ValueError, "seed"),
    (lambda: F.dropout(X, 0.5, seed=1.5), TypeError, "seed"),
    (lambda: F.dropout(X, 0.5, seed="a"), TypeError, "seed"),
    (lambda: F.dropout(X, 0.5, seed=True), TypeError, "seed"),
])
def test_op_arguments_are_checked(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_batch_zero_gives_empty_results_as_in_tensorflow():
    empty = np.zeros((0, 7, 7, 3))
    assert F.conv2d(empty, W).shape == (0, 5, 5, 4)
    y, pullback = npcnn.vjp("conv2d", empty, W)
    dx, dw = pullback(np.zeros_like(y))
    assert dx.shape == empty.shape and dw.shape == W.shape and not dw.any()


def test_vjp_returns_the_gradient_of_an_array_given_by_keyword():
    for op in npcnn.differentiable_ops():
        rule = npcnn.vjp_rule(op)
        if "bias" in rule.arrays:
            assert rule.arrays.index("bias") == len(rule.arrays) - 1, op
    b = RNG.standard_normal(4)
    y, pullback = npcnn.vjp("conv2d", X, W, bias=b)
    dy = RNG.standard_normal(y.shape)
    by_keyword = pullback(dy)
    positional = npcnn.vjp("conv2d", X, W, b)[1](dy)
    assert len(by_keyword) == 3
    for a, e in zip(by_keyword, positional):
        np.testing.assert_array_equal(a, e)
    np.testing.assert_allclose(by_keyword[2], dy.sum(axis=(0, 1, 2)))
    y, pullback = npcnn.vjp("dense", X[:, 0, 0, :], W[0, 0], bias=b)
    assert len(pullback(np.ones_like(y))) == 3
    with pytest.raises(TypeError, match="both positionally and by keyword"):
        npcnn.vjp("conv2d", X, W, b, bias=b)


def _reads(geom, n_hw):
    """Per axis, the set of (output index, input index) pairs the window reads inside the input."""
    out = []
    for n, o, k, s, d, (top, _) in zip(n_hw, geom.out, geom.kernel, geom.strides, geom.dilations, geom.pads):
        out.append({(i, i * s + t * d - top) for i in range(o) for t in range(k) if 0 <= i * s + t * d - top < n})
    return out


@pytest.mark.parametrize("n, k, s, d, padding", [
    (7, 3000, 1, 1, "SAME"), (7, 10000, 3, 1, "SAME"), (5, 3, 1, 3000, "SAME"), (9, 40, 4, 1, "SAME"),
    (1, 50, 5, 1, "SAME"), (8, 7, 2, 5, "SAME"), (6, 3, 1, 1, "VALID"), (6, 4, 2, 1, [[30, 31], [2, 2]]),
    (10, 6, 3, 7, "SAME"), (4, 2, 1, 1, [[1, 1], [0, 1]]),
])
def test_live_taps_read_the_same_cells_within_a_bounded_window(n, k, s, d, padding):
    geom = P.window_geometry((n, n + 1), (k, k), (s, s), (d, d), padding)
    live, (rows, cols) = P.live_taps(geom, (n, n + 1))
    assert live.out == geom.out and min(p for pair in live.pads for p in pair) >= 0
    # the same input cells reach the same outputs; tap t of the live window is tap rows.start + t
    assert _reads(live, (n, n + 1)) == _reads(geom, (n, n + 1))
    assert rows.start * d - geom.pads[0][0] == -live.pads[0][0]
    # cost: the padded extent is bounded by the input and the output, not by the window
    for axis, size in enumerate((n, n + 1)):
        extent = (live.out[axis] - 1) * s + (live.kernel[axis] - 1) * d + 1
        assert extent <= max(2 * (size + (live.out[axis] - 1) * s) + d, (geom.kernel[axis] - 1) * d + 1)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_window_far_larger_than_the_input(op):
    """ksize 3000 under SAME covers the whole 7x7 input from every output: the global max / mean."""
    y, pullback = npcnn.vjp(op, X, ksize=3000, strides=1, padding="SAME")
    expected = X.max(axis=(1, 2), keepdims=True) if op == "max_pool2d" else X.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, np.broadcast_to(expected, X.shape), rtol=1e-12)
    dy = RNG.standard_normal(y.shape)
    (dx,) = pullback(dy)
    total = dy.sum(axis=(1, 2))
    if op == "avg_pool2d":
        np.testing.assert_allclose(dx, np.broadcast_to((total / 49)[:, None, None, :], X.shape), rtol=1e-10)
    else:
        np.testing.assert_allclose(dx.sum(axis=(1, 2)), total, rtol=1e-10)
        assert (np.count_nonzero(dx.reshape(2, 49, 3), axis=1) == 1).all()


def test_conv_with_a_dilation_far_larger_than_the_input():
    """Dilation 3000, SAME: only the centre tap reads the input; the others get zero gradient."""
    y, pullback = npcnn.vjp("conv2d", X, W, padding="SAME", dilations=3000)
    np.testing.assert_allclose(y, np.einsum("nhwc,co->nhwo", X, W[1, 1]), rtol=1e-12)
    dy = RNG.standard_normal(y.shape)
    dx, dw = pullback(dy)
    np.testing.assert_allclose(dx, np.einsum("nhwo,co->nhwc", dy, W[1, 1]), rtol=1e-12)
    np.testing.assert_allclose(dw[1, 1], np.einsum("nhwc,nhwo->co", X, dy), rtol=1e-12)
    dw[1, 1] = 0
    assert not dw.any()


@pytest.fixture
def saved_model(tmp_path):
    model = models.Sequential([layers.Dense(3)])
    model.build((None, 4))
    path = tmp_path / "model.npz"
    model.save(path)
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty", "corrupted", "text", "other npz", "plain npy"])
def test_load_of_a_file_that_is_not_a_saved_model(saved_model, damage):
    raw = saved_model.read_bytes()
    target = saved_model.with_name(f"{damage.replace(' ', '_')}.npz")
    if damage == "truncated":
        target.write_bytes(raw[:len(raw) // 2])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "corrupted":
        # flip bytes inside the first stored member's data (its CRC no longer matches)
        with zipfile.ZipFile(saved_model) as z:
            info = z.infolist()[0]
        start = info.header_offset + 30 + len(info.filename) + 40
        target.write_bytes(raw[:start] + bytes(b ^ 0xFF for b in raw[start:start + 16]) + raw[start + 16:])
    elif damage == "text":
        target.write_text("layers: dense\n")
    elif damage == "other npz":
        np.savez(target, a=np.ones(3))
    else:
        np.save(target.with_suffix(".npy"), np.ones(3))
        target.with_suffix(".npy").rename(target)
    with pytest.raises(ValueError) as info:
        models.Sequential.load(target)
    message = str(info.value)
    assert str(target) in message and "pickle" not in message


def test_a_hand_edited_config_is_refused_before_allocating(saved_model):
    with np.load(saved_model) as data:
        config = json.loads(str(data["config"]))
        weights = {k: data[k] for k in data.files if k != "config"}
    config["model"]["layers"][0]["config"]["units"] = 10**12      # 4e12 weights: never allocated
    edited = saved_model.with_name("edited.npz")
    np.savez(edited, config=np.array(json.dumps(config)), **weights)
    with pytest.raises(ValueError, match=r"edited\.npz.*kernel.*\(4, 3\).*needs \(4, 1000000000000\)"):
        models.Sequential.load(edited)


@pytest.mark.parametrize("labels, error", [(np.array([1.0, 2.0]), TypeError), (np.array([1.0, np.nan]), TypeError),
                                           (np.array([3, -1]), ValueError)])
def test_mnist_labels_must_be_class_indices(tmp_path, labels, error):
    path = tmp_path / "mnist.npz"
    images = np.zeros((2, 28, 28), np.uint8)
    np.savez(path, x_train=images, y_train=labels, x_test=images, y_test=np.array([0, 1]))
    with pytest.raises(error, match="y_train"):
        datasets.load_mnist(path)
