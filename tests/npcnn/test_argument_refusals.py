"""Every public npcnn function and layer constructor, called with hostile values in each argument
(huge ints, negative, zero, bool, NaN/inf, strings, None, wrong-length tuples, nested lists, 0-d,
object, complex, wrong-rank and empty arrays): it computes, or it refuses with a ValueError or a
TypeError whose message names the argument; never OverflowError, MemoryError, IndexError,
AttributeError or NumPy's own messages. NumPy integer scalars are accepted wherever an int is.

The tables hold one valid call per function and per layer; a function exported by
``npcnn.functional`` or a layer class exported by ``npcnn.layers`` without an entry fails
``test_every_public_function_and_layer_has_a_valid_call``, so a new one is fuzzed as soon as it exists.
"""
import inspect
import re

import numpy as np
import pytest

import npcnn
from npcnn import functional as F
from npcnn import layers as L

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 6, 6, 4))
W = RNG.standard_normal((3, 3, 4, 2))
C4 = np.ones(4)
LOGITS = RNG.standard_normal((3, 5))

#: One valid call of each function of npcnn.functional, every argument given.
FUNCTION_CALLS = {
    "conv2d": dict(input=X, filters=W, bias=np.ones(2), strides=1, padding="SAME", dilations=1, data_format="NHWC"),
    "depthwise_conv2d": dict(input=X, filter=W, strides=1, padding="SAME", dilations=1, data_format="NHWC"),
    "conv2d_transpose": dict(input=RNG.standard_normal((2, 6, 6, 2)), filters=W, output_shape=(2, 6, 6, 4), strides=1,
                             padding="SAME", dilations=1, data_format="NHWC"),
    "conv2d_backprop_input": dict(input_sizes=(2, 6, 6, 4), filters=W, out_backprop=RNG.standard_normal((2, 6, 6, 2)),
                                  strides=1, padding="SAME", dilations=1, data_format="NHWC"),
    "conv2d_backprop_filter": dict(input=X, filter_sizes=(3, 3, 4, 2), out_backprop=RNG.standard_normal((2, 6, 6, 2)),
                                   strides=1, padding="SAME", dilations=1, data_format="NHWC"),
    "max_pool2d": dict(input=X, ksize=2, strides=2, padding="SAME", data_format="NHWC"),
    "avg_pool2d": dict(input=X, ksize=2, strides=2, padding="SAME", data_format="NHWC"),
    "global_avg_pool2d": dict(input=X, data_format="NHWC", keepdims=False),
    "relu": dict(features=X), "elu": dict(features=X), "softplus": dict(features=X),
    "leaky_relu": dict(features=X, alpha=0.2), "sigmoid": dict(x=X), "tanh": dict(x=X),
    "softmax": dict(logits=LOGITS, axis=-1), "log_softmax": dict(logits=LOGITS, axis=-1),
    "dense": dict(x=LOGITS, kernel=RNG.standard_normal((5, 2)), bias=np.ones(2)),
    "dropout": dict(x=X, rate=0.5, seed=3),
    "dropout_mask": dict(shape=(2, 3), rate=0.5, seed=3),
    "flatten": dict(x=X, data_format="NHWC"),
    "mean_squared_error": dict(y_true=LOGITS, y_pred=LOGITS + 1),
    "softmax_cross_entropy_with_logits": dict(labels=np.full((3, 5), 0.2), logits=LOGITS, axis=-1),
    "sparse_softmax_cross_entropy_with_logits": dict(labels=np.array([0, 4, 2]), logits=LOGITS),
    "batch_normalization": dict(x=X, gamma=C4, beta=C4, moving_mean=C4, moving_variance=C4, training=False,
                                epsilon=1e-3, axis=-1),
    "group_normalization": dict(x=X, gamma=C4, beta=C4, groups=2, epsilon=1e-3, axis=-1),
    "layer_normalization": dict(x=X, gamma=C4, beta=C4, axis=-1, epsilon=1e-3),
    "moments": dict(x=X, axes=(0, 1, 2), keepdims=False),
}

#: One valid construction of each layer class, with the input it is called on; every argument whose
#: default is None is given a value here, so that its hostile values are judged by that value's kind.
LAYER_CALLS = {
    "Conv2D": (dict(filters=2, kernel_size=3, strides=1, padding="same", dilation_rate=1, groups=2, activation="relu",
                    use_bias=True, data_format="channels_last", name="c"), X),
    "Conv2DTranspose": (dict(filters=2, kernel_size=3, strides=2, padding="same", output_padding=1, dilation_rate=1,
                             activation="relu", use_bias=True, data_format="channels_last", name="c"), X),
    "DepthwiseConv2D": (dict(kernel_size=3, strides=1, padding="same", depth_multiplier=2, dilation_rate=1,
                             activation="relu", use_bias=True, data_format="channels_last", name="c"), X),
    "MaxPooling2D": (dict(pool_size=2, strides=2, padding="same", data_format="channels_last", name="c"), X),
    "AveragePooling2D": (dict(pool_size=2, strides=2, padding="same", data_format="channels_last", name="c"), X),
    "GlobalAveragePooling2D": (dict(data_format="channels_last", keepdims=True, name="c"), X),
    "Dense": (dict(units=3, activation="relu", use_bias=True, name="c"), LOGITS),
    "Flatten": (dict(data_format="channels_last", name="c"), X),
    "Activation": (dict(activation="relu", name="c"), X),
    "ReLU": (dict(negative_slope=0.1, name="c"), X),
    "Dropout": (dict(rate=0.5, seed=1, name="c"), X),
    "BatchNormalization": (dict(axis=-1, momentum=0.9, epsilon=1e-3, center=True, scale=True, name="c"), X),
    "GroupNormalization": (dict(groups=2, axis=-1, epsilon=1e-3, center=True, scale=True, name="c"), X),
    "LayerNormalization": (dict(axis=-1, epsilon=1e-3, center=True, scale=True, name="c"), X),
}

HUGE_INTS = [10**30, 2**64, 2**63, 2**62, 2**31]
#: Values no argument of any kind takes: each must be refused.
ALWAYS_REFUSED = ["x", "", np.array([1 + 2j]), np.array([object()], dtype=object), [[1.0, 2.0], [3.0]]]


def _hostile(value, default, free_text=False):
    """``(hostile value, must_refuse)`` pairs for an argument whose valid value is ``value``;
    ``free_text``: any string is a valid value (a layer's name)."""
    cases = [(v, not (free_text and isinstance(v, str))) for v in ALWAYS_REFUSED]
    if default is not None:
        cases.append((None, True))
    if isinstance(value, (bool, np.bool_)):
        return cases + [(v, False) for v in (2, np.array([True, False]), "False")]
    if isinstance(value, int):
        return cases + [(True, True), (False, True), (2.5, True), (float("nan"), True), (float("inf"), True)] + [
            (v, False) for v in HUGE_INTS + [-v for v in HUGE_INTS] + [-1, 0, 1, 7, np.array(2), np.array([1, 2]),
                                                                       (1, 2, 3), [[1, 1], [1]], [[1, 2], [3, 4]]]]
    if isinstance(value, float):
        return cases + [(True, True)] + [(v, False) for v in (float("nan"), float("inf"), -float("inf"), -1.0, 0.0,
                                                              1.0, 10**400, 2**63, [0.1], np.array([0.1, 0.2]))]
    if isinstance(value, str):
        return cases + [(v, False) for v in (5, b"SAME", ["SAME"], [[1, 2], [3]], [[-1, 0], [0, 0]],
                                             [[2**63, 0], [0, 0]], [[10**30, 0], [0, 0]], [[2**62, 2**62], [0, 0]],
                                             [[2**31, 2**31], [1, 1]], [[1.5, 0], [0, 0]], [["a", "b"], [0, 0]],
                                             [[float("nan"), 0], [0, 0]], [[np.array([1, 2]), 0], [0, 0]],
                                             np.array(["SAME"]))]
    if isinstance(value, tuple):
        n = len(value)
        return cases + [(v, False) for v in ((1, 2, 3) if n != 3 else (1, 2), (10**30,) * n, (2**63,) * n,
                                             (2**62,) * n, (2**40,) * n, (-1,) * n, (True,) * n, (1.5,) * n,
                                             [[1, 2], [3]], np.array(value, dtype=np.float64), ())]
    assert isinstance(value, np.ndarray), value
    return cases + [(v, False) for v in (
        3.0, np.float64(2.0), np.array(2.0), value[..., 0], value[None], np.zeros((0,) + value.shape[1:]),
        np.zeros(0), value.astype(np.float16), value.astype(np.complex128), value.astype(bool),
        np.round(value).astype(np.int64), value.astype(">f8"), [[1.0, 2.0], ["a", 3.0]], np.full(value.shape, np.nan))]


def _arguments_named(message: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def _judge(call, name, value, must_refuse, what):
    try:
        call()
    except (ValueError, TypeError) as e:
        assert _arguments_named(str(e), name), f"{what}: {name}={value!r} refused without naming {name}: {e}"
        assert "\n" not in str(e).strip(), f"{what}: {name}={value!r}: a message of several lines: {e}"
        return
    except Exception as e:  # noqa: BLE001 - any other class is the failure under test
        pytest.fail(f"{what}: {name}={value!r} raised {type(e).__name__}, not ValueError/TypeError: {e}")
    assert not must_refuse, f"{what}: {name}={value!r} was accepted"


def _public_functions():
    return sorted(name for name, obj in vars(F).items()
                  if inspect.isfunction(obj) and not name.startswith("_") and name != "vjp")


def _public_layers():
    return sorted(name for name, obj in vars(L).items()
                  if inspect.isclass(obj) and issubclass(obj, L.Layer) and obj is not L.Layer)


def test_every_public_function_and_layer_has_a_valid_call():
    assert sorted(FUNCTION_CALLS) == _public_functions()
    assert sorted(LAYER_CALLS) == _public_layers()
    for name, call in FUNCTION_CALLS.items():
        assert list(call) == list(inspect.signature(getattr(F, name)).parameters), name
        getattr(F, name)(**call)
    for name, (kwargs, x) in LAYER_CALLS.items():
        assert set(kwargs) == set(inspect.signature(getattr(L, name)).parameters) - {"kernel_initializer",
                                                                                      "bias_initializer",
                                                                                      "depthwise_initializer",
                                                                                      "beta_initializer",
                                                                                      "gamma_initializer",
                                                                                      "moving_mean_initializer",
                                                                                      "moving_variance_initializer"}
        getattr(L, name)(**kwargs)(x.astype(np.float32))


@pytest.mark.parametrize("function", sorted(FUNCTION_CALLS))
def test_function_refuses_hostile_arguments_naming_them(function):
    fn = getattr(F, function)
    parameters = inspect.signature(fn).parameters
    with_rule = function in npcnn.differentiable_ops()
    for name, valid in FUNCTION_CALLS[function].items():
        default = parameters[name].default
        for value, must_refuse in _hostile(valid, None if default is inspect.Parameter.empty else default):
            call = {**FUNCTION_CALLS[function], name: value}
            _judge(lambda: fn(**call), name, value, must_refuse, function)
            if with_rule:
                _judge(lambda: npcnn.vjp(function, **call), name, value, must_refuse, f"vjp({function!r})")


@pytest.mark.parametrize("layer", sorted(LAYER_CALLS))
def test_layer_refuses_hostile_arguments_naming_them(layer):
    cls = getattr(L, layer)
    kwargs, x = LAYER_CALLS[layer]
    x = x.astype(np.float32)
    parameters = inspect.signature(cls).parameters
    for name, valid in kwargs.items():
        default = parameters[name].default
        for value, must_refuse in _hostile(valid, None if default is inspect.Parameter.empty else default,
                                           free_text=name == "name"):
            _judge(lambda: cls(**{**kwargs, name: value})(x), name, value, must_refuse, layer)


def _with_numpy_ints(value, kind):
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, int) and (value >= 0 or np.issubdtype(kind, np.signedinteger)):
        return kind(value)
    if isinstance(value, tuple) and all(isinstance(v, int) and v >= 0 for v in value):
        return tuple(kind(v) for v in value)
    return value


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.uint8])
def test_numpy_integers_are_accepted_like_ints(kind):
    for function, call in FUNCTION_CALLS.items():
        fn = getattr(F, function)
        expected = fn(**call)
        got = fn(**{k: _with_numpy_ints(v, kind) for k, v in call.items()})
        for e, g in zip(*(r if isinstance(r, tuple) else (r,) for r in (expected, got))):
            np.testing.assert_array_equal(g, e, err_msg=function)
    explicit = [[kind(1), kind(0)], [kind(2), kind(1)]]
    np.testing.assert_array_equal(F.conv2d(X, W, padding=explicit), F.conv2d(X, W, padding=[[1, 0], [2, 1]]))
    for layer, (kwargs, x) in LAYER_CALLS.items():
        cls = getattr(L, layer)
        numpy_kwargs = {k: _with_numpy_ints(v, kind) for k, v in kwargs.items()}
        if kind is np.uint8 and kwargs.get("axis") == -1:
            numpy_kwargs["axis"] = kind(3)
        a, b = cls(**kwargs), cls(**numpy_kwargs)
        a.build((None,) + x.shape[1:], seed=0)
        b.build((None,) + x.shape[1:], seed=0)
        np.testing.assert_array_equal(a.forward(x.astype(np.float32)), b.forward(x.astype(np.float32)), err_msg=layer)


@pytest.mark.parametrize("call, words", [
    (lambda: F.conv2d(X, W, strides=10**30, padding="SAME"), "strides"),
    (lambda: F.conv2d(X, W, strides=2**63), "strides"),
    (lambda: F.conv2d(X, W, dilations=10**30, padding="SAME"), "dilations"),
    (lambda: F.conv2d(X, W, dilations=2**63), "dilations"),
    (lambda: F.depthwise_conv2d(X, W, strides=2**63, padding="SAME"), "strides"),
    (lambda: F.depthwise_conv2d(X, W, dilations=10**30, padding="SAME"), "dilations"),
    (lambda: F.max_pool2d(X, 2, 10**30, "SAME"), "strides"),
    (lambda: F.max_pool2d(X, 2**63, 1, "SAME"), "ksize"),
    (lambda: F.avg_pool2d(X, 2, 2**62, "SAME"), "strides"),
    (lambda: F.avg_pool2d(X, 2, 2**63, "VALID"), "strides"),
    (lambda: F.conv2d_transpose(X[..., :2], W, (2, 6, 6, 4), strides=10**30), "strides"),
    (lambda: F.conv2d_transpose(X[..., :2], W, (2, 6, 6, 4), dilations=2**63), "dilations"),
    (lambda: F.conv2d(X, W, padding=[[2**62, 2**62], [0, 0]]), "padding"),
    (lambda: F.conv2d(X, W, padding=[[2**31, 2**31], [0, 0]]), "padding"),
    (lambda: F.conv2d(X, W, padding=[[2**63, 0], [0, 0]]), "padding"),
    (lambda: F.conv2d_backprop_input((2, 2**40, 6, 4), W, np.ones((2, 1, 6, 2)), strides=(2**31 - 1, 1),
                                     padding="SAME"), "input_sizes"),
    (lambda: F.dropout_mask((2**40, 2**40), 0.5, 0), "shape"),
    (lambda: F.group_normalization(X, C4, C4, groups=True), "groups"),
    (lambda: F.group_normalization(X, C4, C4, groups=2.0), "groups"),
    (lambda: F.leaky_relu(X, alpha="x"), "alpha"),
    (lambda: F.leaky_relu(X, alpha=None), "alpha"),
    (lambda: F.leaky_relu(X, alpha=10**400), "alpha"),
    (lambda: L.Conv2D(2, 3, strides=10**30), "strides"),
    (lambda: L.Conv2D(2, 3, dilation_rate=2**63), "dilation_rate"),
    (lambda: L.MaxPooling2D(2, strides=2**62), "strides"),
    (lambda: L.Dense(2**62)(LOGITS.astype(np.float32)), "units"),
    (lambda: L.Conv2D(2**40, 3)(X.astype(np.float32)), "filters"),
    (lambda: L.Dense(3, use_bias="False"), "use_bias"),
    (lambda: L.Dropout(0.5, seed="x"), "seed"),
    (lambda: L.Dense(3, name=5), "name"),
])
def test_known_bad_arguments_name_the_argument(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert _arguments_named(str(info.value), words), str(info.value)


def test_window_limits_follow_tensorflows_int32_attributes():
    """2**31 - 1 is still a stride TensorFlow computes (one output cell); 2**31 is refused."""
    assert F.conv2d(X, W, strides=2**31 - 1, padding="SAME").shape == (2, 1, 1, 2)
    assert F.max_pool2d(X, 2**31 - 1, 1, "SAME").shape == X.shape
    with pytest.raises(ValueError, match=r"strides must be at most 2147483647"):
        F.conv2d(X, W, strides=2**31, padding="SAME")
    assert L.Conv2DTranspose(2, 3, strides=2, output_padding=0)(X.astype(np.float32)).shape == (2, 13, 13, 2)
    with pytest.raises(ValueError, match="output_padding"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)


def _compiled():
    model = npcnn.Sequential([L.Dense(3)])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


XS, YS = LOGITS[:, :4].astype(np.float32), np.array([0, 1, 2])

#: The rest of the Keras-like API: ``argument name -> call with that argument set to v``.
API_CALLS = {
    "fit": {"epochs": lambda v: _compiled().fit(XS, YS, epochs=v, verbose=0),
            "batch_size": lambda v: _compiled().fit(XS, YS, batch_size=v, verbose=0),
            "seed": lambda v: _compiled().fit(XS, YS, seed=v, verbose=0),
            "verbose": lambda v: _compiled().fit(XS, YS, verbose=v if v is not True else 0),
            "shuffle": lambda v: _compiled().fit(XS, YS, shuffle=v, verbose=0),
            "validation_data": lambda v: _compiled().fit(XS, YS, validation_data=v, verbose=0),
            "x": lambda v: _compiled().fit(v, YS, verbose=0), "y": lambda v: _compiled().fit(XS, v, verbose=0)},
    "predict": {"batch_size": lambda v: _compiled().predict(XS, batch_size=v), "x": lambda v: _compiled().predict(v)},
    "evaluate": {"verbose": lambda v: _compiled().evaluate(XS, YS, verbose=v if v is not True else 0),
                 "return_dict": lambda v: _compiled().evaluate(XS, YS, return_dict=v)},
    "compile": {"optimizer": lambda v: _compiled().compile(v, "mse"), "loss": lambda v: _compiled().compile("sgd", v),
                "metrics": lambda v: _compiled().compile("sgd", "mse", metrics=v)},
    "build": {"input_shape": lambda v: npcnn.Sequential([L.Dense(3)]).build(v),
              "dtype": lambda v: npcnn.Sequential([L.Dense(3)]).build((None, 4), dtype=v),
              "seed": lambda v: npcnn.Sequential([L.Dense(3)]).build((None, 4), seed=v)},
    "Sequential": {"layers": lambda v: npcnn.Sequential(v), "name": lambda v: npcnn.Sequential(name=v)},
    "set_weights": {"weights": lambda v: _compiled().build((None, 4)).set_weights(v)},
    "optimizers": {"learning_rate": lambda v: npcnn.SGD(v), "momentum": lambda v: npcnn.SGD(momentum=v),
                   "nesterov": lambda v: npcnn.SGD(nesterov=v), "beta_1": lambda v: npcnn.Adam(beta_1=v),
                   "rho": lambda v: npcnn.RMSprop(rho=v)},
    "losses": {"from_logits": lambda v: npcnn.SparseCategoricalCrossentropy(from_logits=v)},
    "initializers": {"value": lambda v: npcnn.initializers.Constant(v),
                     "scale": lambda v: npcnn.initializers.VarianceScaling(v),
                     "mode": lambda v: npcnn.initializers.VarianceScaling(mode=v),
                     "distribution": lambda v: npcnn.initializers.VarianceScaling(distribution=v),
                     "shape": lambda v: npcnn.initializers.glorot_uniform(v),
                     "dtype": lambda v: npcnn.initializers.glorot_uniform((2, 2), v)},
}
API_HOSTILE = HUGE_INTS + [-1, 0, True, 2.5, float("nan"), float("inf"), None, [[1]], (1, 2, 3), np.array([1, 2]),
                           np.array([1 + 2j]), np.array([object()], dtype=object)]


@pytest.mark.parametrize("group", sorted(API_CALLS))
def test_keras_like_api_refuses_hostile_arguments_naming_them(group):
    for name, call in API_CALLS[group].items():
        _judge(lambda: call("x"), name, "x", name != "name", group)
        for value in API_HOSTILE:
            if name == "epochs" and isinstance(value, int) and 2 < value <= 2**63 - 1:
                continue   # a valid number of epochs: fit would train that long
            _judge(lambda: call(value), name, value, False, group)


def _built_conv():
    layer = L.Conv2D(2, 3)
    layer.build((None, 6, 6, 4))
    layer.forward(X.astype(np.float32))
    return layer


def _built_model():
    model = npcnn.Sequential([L.Dense(2)])
    model.build((None, 4))
    model.forward(np.ones((1, 4), np.float32))
    return model


#: Data passed to a built layer or model, a pullback, or a file path.
DATA_CALLS = {
    "x": [lambda v: _built_conv().forward(v), lambda v: L.Conv2D(2, 3)(v), lambda v: _built_model().forward(v),
          lambda v: npcnn.Sequential([L.Dense(2)])(v)],
    "dy": [lambda v: _built_conv().backward(v), lambda v: _built_model().backward(v),
           lambda v: npcnn.vjp("relu", X)[1](v)],
    "training": [lambda v: _built_conv().forward(X.astype(np.float32), training=v)],
    "weights": [lambda v: _built_model().set_weights([v, np.zeros(2)])],
    "path": [lambda v: npcnn.Sequential.load(v)],
}
DATA_HOSTILE = [None, [[1.0, 2.0], [3.0]], np.array([object()], dtype=object), np.array([1 + 2j]), 5, np.float32(1),
                np.ones(X.shape, np.complex64), np.ones(X.shape, object), np.ones((3, 2), np.complex64), 10**30, True]


@pytest.mark.parametrize("name", sorted(DATA_CALLS))
def test_data_given_to_layers_models_and_pullbacks_is_refused_naming_it(name):
    for call in DATA_CALLS[name]:
        for value in DATA_HOSTILE:
            _judge(lambda: call(value), name, value, name != "training" or value is not True, f"{name} call")
