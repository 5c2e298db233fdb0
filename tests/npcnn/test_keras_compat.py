"""from_keras / to_keras: a model with every supported layer survives the round trip, and computes
what Keras computes."""
import inspect

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import npcnn as N  # noqa: E402
import npcnn.layers as L  # noqa: E402
import npcnn.optimizers as O  # noqa: E402
from npcnn.keras_compat import from_keras, to_keras  # noqa: E402

from test_models import every_layer_model  # noqa: E402  (pytest puts this directory on sys.path)

SHAPE = (None, 6, 5, 3)


@pytest.fixture
def model():
    m = every_layer_model().build(SHAPE, "float64", seed=5)
    rng = np.random.default_rng(1)
    for name, p in m.parameters().items():  # non-default BN statistics, gammas and biases
        p[...] = rng.uniform(0.5, 1.5, p.shape) if name.endswith("variance") else rng.standard_normal(p.shape) * 0.5
    return m


def test_to_keras_computes_the_same(model):
    kmodel = to_keras(model)
    x = np.random.default_rng(0).standard_normal((3, *SHAPE[1:]))
    assert [layer.name for layer in kmodel.layers] == [layer.name for layer in model.layers]
    assert kmodel.count_params() == model.count_params()
    np.testing.assert_allclose(model.predict(x), kmodel(x, training=False).numpy(), rtol=1e-10, atol=1e-12)


def test_round_trip_every_layer(model):
    back = from_keras(to_keras(model))
    assert back.get_config() == model.get_config()
    assert back.dtype == model.dtype and back.input_shape == model.input_shape
    for (name, a), b in zip(back.parameters().items(), model.parameters().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_from_keras_model_built_in_keras():
    kmodel = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    ours = from_keras(kmodel)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 1)).astype(np.float32)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.predict(x), kmodel(x).numpy(), rtol=1e-5, atol=1e-6)


def test_unsupported_layers_are_named():
    kmodel = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="ok"),
                               keras.layers.UpSampling2D(name="upsample_me")])
    with pytest.raises(ValueError, match="'upsample_me' \\(UpSampling2D\\)"):
        from_keras(kmodel)
    kmodel = keras.Sequential([keras.Input((8, 8, 1)),
                               keras.layers.Dense(2, kernel_regularizer="l2", name="regularized")])
    with pytest.raises(ValueError, match="'regularized'.*kernel_regularizer"):
        from_keras(kmodel)
    kmodel = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.ReLU(max_value=6.0, name="relu6")])
    with pytest.raises(ValueError, match="'relu6'.*max_value"):
        from_keras(kmodel)


def test_from_keras_carries_floatx_so_training_steps_match():
    """The issue's case: Keras floatx float64, a model taken over by from_keras, 5 SGD steps at lr
    0.05. Keras keeps the learning rate in float64 then, and so must npcnn."""
    before = keras.config.floatx(), N.config.floatx()
    keras.config.set_floatx("float64")
    try:
        kmodel = keras.Sequential([keras.Input((6,), dtype="float64"), keras.layers.Dense(3, dtype="float64")])
        ours = from_keras(kmodel)
        assert N.config.floatx() == "float64"
        ours.compile(optimizer=N.optimizers.SGD(0.05), loss="mse")
        kmodel.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        rng = np.random.default_rng(3)
        x, y = rng.standard_normal((8, 6)), rng.standard_normal((8, 3))
        for _ in range(5):
            ours.train_step(x, y)
            kmodel.train_on_batch(x, y)
        for a, b in zip(ours.parameters().values(), kmodel.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    finally:
        keras.config.set_floatx(before[0])
        N.config.set_floatx(before[1])


def _same_default(mine, theirs) -> bool:
    """Equal defaults, an int meaning the pair of it (strides=1 is Keras's (1, 1))."""
    def pair(v):
        return (v, v) if isinstance(v, int) and not isinstance(v, bool) else v
    return mine == theirs or pair(mine) == pair(theirs)


def test_every_layer_and_optimizer_takes_keras_defaults():
    """An argument left out means what Keras means (a default of npcnn's own would pass every check
    that spells its arguments out); npcnn may give a default where Keras requires the argument."""
    compared, wrong = 0, []
    for mine_module, theirs_module in ((L, keras.layers), (O, keras.optimizers)):
        for name, cls in vars(mine_module).items():
            defined_here = inspect.isclass(cls) and (cls.__module__ + ".").startswith(mine_module.__name__ + ".")
            if not (defined_here and hasattr(theirs_module, name)):
                continue
            theirs = inspect.signature(getattr(theirs_module, name).__init__).parameters
            for arg, p in inspect.signature(cls.__init__).parameters.items():
                q = theirs.get(arg)
                if q is None or q.default is inspect.Parameter.empty or p.default is inspect.Parameter.empty:
                    continue
                compared += 1
                if not _same_default(p.default, q.default):
                    wrong.append((name, arg, p.default, q.default))
    assert wrong == []
    assert compared > 60
