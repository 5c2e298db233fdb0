"""npcnn optimizers against Keras 3's, 10 steps on the same variables and gradients, in float64."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from npcnn import optimizers  # noqa: E402

SHAPES = [(3, 3, 2, 4), (4,), (5, 3)]
STEPS = 10

CONFIGS = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.7, "nesterov": True}),
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-4}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-3, "centered": True}),
]


def _run_both(name, config, seed):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    ours = {f"w{i}": w.copy() for i, w in enumerate(init)}
    theirs = [keras.Variable(w, dtype="float64") for w in init]
    opt, kopt = getattr(optimizers, name)(**config), getattr(keras.optimizers, name)(**config)
    for step in grads:
        opt.apply({f"w{i}": g for i, g in enumerate(step)}, ours)
        kopt.apply([keras.ops.convert_to_tensor(g) for g in step], theirs)
    return ours, [np.asarray(v.numpy()) for v in theirs], init


@pytest.mark.parametrize("name,config", CONFIGS, ids=[f"{n}-{c}" for n, c in CONFIGS])
def test_ten_steps_equal_keras(name, config):
    ours, theirs, init = _run_both(name, config, seed=len(str(config)))
    for i, expected in enumerate(theirs):
        assert not np.allclose(expected, init[i]), "the variables must have moved"
        np.testing.assert_allclose(ours[f"w{i}"], expected, rtol=1e-12, atol=0, err_msg=f"{name} {config} w{i}")


def test_adam_without_bias_correction_is_caught():
    """The comparison above can fail: an Adam that skips bias correction differs visibly from Keras."""
    class NoBiasCorrection(optimizers.Adam):
        def update(self, key, variable, gradient):
            m = self.slot("momentum", key, variable)
            v = self.slot("velocity", key, variable)
            m += (gradient - m) * (1 - self.beta_1)
            v += (np.square(gradient) - v) * (1 - self.beta_2)
            variable -= self.learning_rate * m / (np.sqrt(v) + self.epsilon)

    rng = np.random.default_rng(0)
    w0, g = rng.standard_normal(6), rng.standard_normal(6)
    ours, theirs = {"w": w0.copy()}, [keras.Variable(w0, dtype="float64")]
    bad, kopt = NoBiasCorrection(), keras.optimizers.Adam()
    bad.apply({"w": g}, ours)
    kopt.apply([keras.ops.convert_to_tensor(g)], theirs)
    assert not np.allclose(ours["w"], theirs[0].numpy(), rtol=1e-6, atol=0)


def test_float32_weights_stay_float32():
    w = {"w": np.ones(4, np.float32)}
    for opt in (optimizers.SGD(momentum=0.9, nesterov=True), optimizers.Adam(), optimizers.RMSprop(centered=True,
                                                                                                  momentum=0.5)):
        opt.apply({"w": np.full(4, 0.5, np.float32)}, w)
        assert w["w"].dtype == np.float32
        assert all(s.dtype == np.float32 for table in opt.slots.values() for s in table.values())


def test_mismatched_gradients_are_rejected():
    with pytest.raises(ValueError, match="same names"):
        optimizers.SGD().apply({"a": np.ones(2)}, {"b": np.ones(2)})
    with pytest.raises(ValueError, match="shape"):
        optimizers.SGD().apply({"a": np.ones(3)}, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get("adagrad")


@pytest.fixture
def floatx64():
    """Keras and npcnn both set to floatx float64 for one test, then restored."""
    from npcnn import config
    before = keras.config.floatx(), config.floatx()
    keras.config.set_floatx("float64")
    config.set_floatx("float64")
    yield
    keras.config.set_floatx(before[0])
    config.set_floatx(before[1])


@pytest.mark.parametrize("name,config", CONFIGS[:4], ids=[f"{n}-{c}" for n, c in CONFIGS[:4]])
def test_floatx_float64_keeps_the_learning_rate_exact(floatx64, name, config):
    """Under floatx float64 Keras's learning-rate variable is float64: 0.1 is not rounded through
    float32, so the two agree to the last bits only if npcnn follows floatx too."""
    ours, theirs, init = _run_both(name, config, seed=7)
    for i, expected in enumerate(theirs):
        np.testing.assert_allclose(ours[f"w{i}"], expected, rtol=1e-15, atol=1e-15, err_msg=f"{name} w{i}")


def test_floatx_is_read_when_the_optimizer_is_made(floatx64):
    from npcnn import config
    assert optimizers.SGD(0.1).lr_for(np.float64) == np.float64(0.1)
    config.set_floatx("float32")
    assert optimizers.SGD(0.1).lr_for(np.float64) == np.float64(np.float32(0.1))
    for bad in ("float16", "int32", None, True):
        with pytest.raises(ValueError, match="floatx must be one of"):
            config.set_floatx(bad)
