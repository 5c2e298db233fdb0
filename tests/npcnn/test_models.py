"""Whole networks: npcnn Sequential against the same Keras 3 model in float64; training loop,
save/load, losses, datasets and the digits example."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import npcnn as N  # noqa: E402

RTOL, ATOL = 1e-9, 1e-12
INPUT = (6, 7, 2)
CLASSES = 4


def small_net(flatten=None):
    return N.Sequential([
        N.Conv2D(4, 3, padding="same"), N.BatchNormalization(), N.ReLU(), N.MaxPooling2D(),
        flatten or N.Flatten(), N.Dense(CLASSES)])


def keras_net():
    f64 = {"dtype": "float64"}
    return keras.Sequential([
        keras.Input(INPUT, dtype="float64"),
        keras.layers.Conv2D(4, 3, padding="same", **f64), keras.layers.BatchNormalization(**f64),
        keras.layers.ReLU(**f64), keras.layers.MaxPooling2D(**f64), keras.layers.Flatten(**f64),
        keras.layers.Dense(CLASSES, **f64)])


def twin_models(seed=0, flatten=None):
    """An npcnn model with random weights (BN stats included) and a Keras model holding the same."""
    rng = np.random.default_rng(seed)
    ours = small_net(flatten).build((None, *INPUT), "float64", seed=seed)
    for name, p in ours.parameters().items():
        p[...] = rng.uniform(0.5, 1.5, p.shape) if name.endswith("variance") else rng.standard_normal(p.shape) * 0.5
    theirs = keras_net()
    assert len(theirs.weights) == len(ours.parameters())
    for v, (name, p) in zip(theirs.weights, ours.parameters().items()):
        assert name.endswith("/" + v.name) and tuple(v.shape) == p.shape, (name, v.path)
        v.assign(p)
    return ours, theirs


def batch(seed=0, n=5):
    rng = np.random.default_rng(100 + seed)
    return rng.standard_normal((n, *INPUT)), rng.integers(0, CLASSES, n)


def keras_loss_and_grads(model, x, y, training=True):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    with tf.GradientTape() as tape:
        logits = model(tf.constant(x), training=training)
        loss = loss_fn(tf.constant(y), logits)
    grads = tape.gradient(loss, model.trainable_variables)
    return logits.numpy(), float(loss.numpy()), [g.numpy() for g in grads]


@pytest.mark.parametrize("training", [True, False])
def test_logits_loss_and_every_gradient_equal_keras(training):
    ours, theirs = twin_models()
    x, y = batch()
    loss_fn = N.SparseCategoricalCrossentropy(from_logits=True)
    logits = ours.forward(x, training=training)
    loss, d_logits = loss_fn.value_and_grad(y, logits)
    ours.backward(d_logits)
    k_logits, k_loss, k_grads = keras_loss_and_grads(theirs, x, y, training)
    np.testing.assert_allclose(logits, k_logits, rtol=RTOL, atol=ATOL, err_msg="logits")
    np.testing.assert_allclose(loss, k_loss, rtol=RTOL, err_msg="loss")
    assert len(k_grads) == len(ours.gradients())
    for (name, g), kg in zip(ours.gradients().items(), k_grads):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, kg, rtol=RTOL, atol=ATOL, err_msg=name)
    for (name, p), v in zip(ours.parameters().items(), theirs.weights):  # BN moving stats after the call
        np.testing.assert_allclose(p, v.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_flatten_in_the_wrong_layout_is_caught():
    class ChannelsFirstFlatten(N.Flatten):
        """Deliberately wrong: flattens in NCHW order although the data are NHWC."""
        def call(self, x, training):
            y, pullback = N.vjp("flatten", x.transpose(0, 3, 1, 2).copy())
            return y, lambda dy: (pullback(dy)[0].transpose(0, 2, 3, 1), {})

    ours, theirs = twin_models(flatten=ChannelsFirstFlatten())
    x, _ = batch()
    assert not np.allclose(ours.forward(x), theirs(x, training=False).numpy(), rtol=1e-3)


@pytest.mark.parametrize("make_optimizers", [
    lambda: (N.SGD(learning_rate=0.05, momentum=0.9), keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)),
    lambda: (N.Adam(learning_rate=0.01), keras.optimizers.Adam(learning_rate=0.01)),
], ids=["sgd_momentum", "adam"])
def test_ten_training_steps_equal_keras(make_optimizers):
    ours, theirs = twin_models(seed=1)
    opt, kopt = make_optimizers()
    ours.compile(opt, N.SparseCategoricalCrossentropy(from_logits=True))
    start = [p.copy() for p in ours.parameters().values()]
    for step in range(10):
        x, y = batch(step, n=6)
        ours.train_step(x, y)
        _, _, grads = keras_loss_and_grads(theirs, x, y, training=True)
        kopt.apply(grads, theirs.trainable_variables)
    conv_bias = f"{ours.layers[0].name}/bias"  # feeds a train-mode BN: its gradient is ~0
    for (name, p), v, p0 in zip(ours.parameters().items(), theirs.weights, start):
        assert name == conv_bias or not np.allclose(p, p0), f"{name} did not move"
        np.testing.assert_allclose(p, v.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def test_count_params_and_summary_match_keras():
    ours, theirs = twin_models()
    assert ours.count_params() == theirs.count_params()
    lines = []
    text = ours.summary(print_fn=lines.append)
    assert lines == [text]
    assert f"Total params: {theirs.count_params():,}" in text and "(None, 3, 3, 4)" in text
    assert ours.output_shape == tuple(theirs.output_shape)


# --- losses -------------------------------------------------------------------------------------------

def _keras_loss_grad(loss, y_true, y_pred):
    p = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(p)
        value = loss(tf.constant(y_true), p)
    return float(value.numpy()), tape.gradient(value, p).numpy()


@pytest.mark.parametrize("name", ["sparse_logits", "sparse_probs", "dense_logits", "dense_probs", "mse"])
def test_losses_equal_keras(name):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 5)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True) * 1.3  # unnormalised on purpose
    probs[0, 0] = 1e-9  # one clipped entry
    labels = rng.integers(0, 5, 6)
    labels[0] = 0
    onehot = np.eye(5)[labels]
    f64 = {"dtype": "float64"}
    cases = {
        "sparse_logits": (N.SparseCategoricalCrossentropy(from_logits=True),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True, **f64), labels, logits),
        "sparse_probs": (N.SparseCategoricalCrossentropy(),
                         keras.losses.SparseCategoricalCrossentropy(**f64), labels, probs),
        "dense_logits": (N.CategoricalCrossentropy(from_logits=True),
                         keras.losses.CategoricalCrossentropy(from_logits=True, **f64), onehot, logits),
        "dense_probs": (N.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy(**f64), onehot, probs),
        "mse": (N.MeanSquaredError(), keras.losses.MeanSquaredError(**f64), rng.standard_normal((6, 5)), logits),
    }
    ours, theirs, y_true, y_pred = cases[name]
    value, grad = ours.value_and_grad(y_true, y_pred)
    k_value, k_grad = _keras_loss_grad(theirs, y_true, y_pred)
    np.testing.assert_allclose(value, k_value, rtol=1e-12)
    np.testing.assert_allclose(grad, k_grad, rtol=1e-10, atol=1e-14)


# --- training loop, save/load -------------------------------------------------------------------------

def test_fit_evaluate_predict_history():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, *INPUT)).astype(np.float32)
    y = (x[:, :3, :, 0].mean(axis=(1, 2)) > 0).astype(np.int64) * 2  # a learnable rule
    model = small_net().build((None, *INPUT), "float32", seed=0)
    model.compile(N.Adam(0.01), N.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=6, batch_size=8, validation_data=(x, y), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history["loss"]) == 6 and history["loss"][-1] < history["loss"][0]
    loss, accuracy = model.evaluate(x, y)
    assert loss == pytest.approx(history["val_loss"][-1]) and 0 <= accuracy <= 1
    out = model.predict(x, batch_size=16)
    assert out.shape == (40, CLASSES) and out.dtype == np.float32
    assert all(p.dtype == np.float32 for p in model.parameters().values())


def test_fit_is_reproducible_with_a_seed():
    x, y = batch(0, n=12)
    histories = []
    for _ in range(2):
        model = small_net().build((None, *INPUT), "float64", seed=3)
        model.compile(N.SGD(0.1, momentum=0.5), N.SparseCategoricalCrossentropy(from_logits=True))
        histories.append(model.fit(x, y, epochs=2, batch_size=5, seed=7, verbose=0).history)
    assert histories[0] == histories[1]


def test_save_load_round_trip(tmp_path):
    ours, _ = twin_models()
    x, y = batch()
    ours.compile("sgd", N.SparseCategoricalCrossentropy(from_logits=True))
    ours.train_step(x, y)
    path = tmp_path / "model.npz"
    ours.save(path)
    loaded = N.load_model(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in ours.layers]
    assert loaded.get_config() == ours.get_config()
    assert list(loaded.parameters()) == list(ours.parameters())
    for (name, a), b in zip(loaded.parameters().items(), ours.parameters().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype
    np.testing.assert_array_equal(loaded.forward(x), ours.forward(x))
    with pytest.raises(FileNotFoundError):
        N.load_model(tmp_path / "missing.npz")


# --- datasets and the example -------------------------------------------------------------------------

def test_load_digits():
    (x_train, y_train), (x_test, y_test) = N.datasets.load_digits()
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.float32
    assert len(x_train) + len(x_test) == 1797 and 0.0 == x_train.min() and x_train.max() == 1.0
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: about 20% of each class
    (x2, _), _ = N.datasets.load_digits()
    np.testing.assert_array_equal(x_train, x2)


def test_load_mnist(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_train=np.arange(5, dtype=np.uint8),
             x_test=np.full((2, 28, 28), 255, np.uint8), y_test=np.array([3, 4], np.uint8))
    (x_train, y_train), (x_test, y_test) = N.datasets.load_mnist(path)
    assert x_train.shape == (5, 28, 28, 1) and x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert np.all(x_test == 1.0) and list(y_test) == [3, 4]
    with pytest.raises(FileNotFoundError, match="never downloads"):
        N.datasets.load_mnist(tmp_path / "nope.npz")


def test_digits_example_trains(tmp_path):
    from npcnn.examples.train_digits import main
    png = tmp_path / "digits.png"
    result = main(["--epochs", "3", "--out", str(png), "--quiet"])
    assert result["accuracy"] >= 0.90
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["confusion"].sum() == 359


def every_layer_model():
    """One model using every npcnn layer type, with non-default arguments."""
    return N.Sequential([
        N.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer="he_normal"),
        N.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False),
        N.Conv2DTranspose(4, 3, strides=2, padding="same", activation="tanh"),
        N.GroupNormalization(2, epsilon=1e-2),
        N.LayerNormalization(center=False),
        N.BatchNormalization(momentum=0.9),
        N.ReLU(negative_slope=0.1),
        N.AveragePooling2D(2),
        N.MaxPooling2D(3, strides=2, padding="same"),
        N.Activation("elu"),
        N.Dropout(0.2, seed=4),
        N.GlobalAveragePooling2D(keepdims=True),
        N.Flatten(),
        N.Dense(6, activation="sigmoid"),
        N.Dense(3),
    ], name="everything")


def test_save_load_every_layer_type(tmp_path):
    model = every_layer_model().build((None, 6, 5, 3), "float32", seed=2)
    x = np.random.default_rng(0).standard_normal((4, 6, 5, 3)).astype(np.float32)
    model.compile(N.RMSprop(), N.MeanSquaredError())
    model.train_step(x, np.zeros((4, 3), np.float32))  # moves weights and BN statistics
    model.save(tmp_path / "every.npz")
    loaded = N.Sequential.load(tmp_path / "every.npz")
    assert loaded.name == "everything" and loaded.dtype == np.float32
    assert loaded.get_config() == model.get_config()
    assert {type(layer).__name__ for layer in loaded.layers} == set(N.layers.LAYERS)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
