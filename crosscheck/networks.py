"""Whole-network parity: random valid CNNs built in npcnn and in Keras with identical weights.

A per-op check cannot see a network that is wired wrong (a flatten in the wrong layout, an optimizer
update off by a factor, a layer cache overwritten). :func:`check_network` runs one architecture in
both, in float64, and compares

* every layer's output in training mode (``out[<layer>]``), the logits and the loss,
* every parameter gradient of that step (``d[<layer>/<weight>]``),
* every parameter, BatchNormalization statistics included, after ``steps`` optimizer steps on
  fresh random batches (``<layer>/<weight>@step<k>``),

and returns an :class:`~crosscheck.case.Outcome` whose diffs name the layer. :func:`architectures`
is the hypothesis strategy: stacks of Conv2D / DepthwiseConv2D / Conv2DTranspose / Conv-BN blocks / pooling /
normalization / activations with shapes consistent by construction, then Flatten or global pooling
and one or two Dense layers.

Tolerance: the per-op policy of :mod:`crosscheck.tolerance` (``rtol = SAFETY * eps * sqrt(K)``),
with ``K`` the sum over layers of the terms each layer accumulates per element (:func:`network_terms`;
a normalisation layer counts ``1 / epsilon`` times its reduction size: its gain ``1 / sqrt(var + eps)``
amplifies errors by up to ``1 / sqrt(epsilon)`` when the variance is small),
and three network-level scales, all written down here and never tuned per case:

* layer outputs: an output that is small because large terms cancel, or a normalisation of a
  (nearly) constant channel (a dead ReLU before BatchNormalization), carries the rounding of the
  layers before it; its scale floor is the largest RMS among the input and the reference outputs
  up to that layer.
* gradients: a gradient that is small because large terms cancel (a kernel before BatchNormalization,
  a normalisation followed by another) carries rounding errors of the size of those terms, not of
  its own; its scale floor is ``G``, the largest RMS among the reference's parameter gradients.
* parameters after ``steps`` updates: ``atol`` adds ``steps * A * rtol_grad * G``, the gradient
  rounding pushed through the optimizer's largest gradient-to-parameter gain ``A``:
  ``lr * (1 + momentum) / (1 - momentum)`` for SGD (one gradient's effect summed over the momentum
  tail; Nesterov included), ``lr * sqrt(1 - beta_2**steps) / epsilon`` for Adam (its epsilon bounds
  the gain when a gradient element is near zero), ``lr / sqrt(epsilon) / (1 - momentum)`` for RMSprop.

Architectures that TensorFlow cannot run are not generated (DepthwiseConv2dNative on CPU needs equal
strides) and neither are degenerate normalisations over a single element (variance exactly 0:
rounding amplified by ``1 / sqrt(epsilon)``).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

import npcnn
from npcnn import layers as L
from npcnn import padding as P

from .case import IMPLEMENTATION_ERROR, MISMATCH, PASS, REFERENCE_UNSUPPORTED, Case, Outcome
from .compare import compare
from .fuzz import fuzz_outcomes
from .registry import FAMILY
from .tf_import import keras_module, tensorflow
from .tolerance import Tolerance, rms, tolerance

STEPS = 10


@dataclass
class Architecture:
    """A Sequential CNN as data: ``layers`` are ``{"class_name", "config"}`` dicts (npcnn = Keras names)."""
    input_shape: tuple  # (H, W, C)
    batch: int
    classes: int
    layers: list = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        for spec in self.layers:
            cfg = {k: v for k, v in spec["config"].items() if k != "name"}
            parts.append(f"{spec['class_name']}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})")
        return f"input {self.input_shape} x{self.batch} -> " + " -> ".join(parts)

    def build(self, seed: int = 0) -> npcnn.Sequential:
        """The npcnn model in float64 with random weights (and random BN statistics)."""
        model = npcnn.Sequential([L.deserialize(spec) for spec in self.layers])
        model.build((None, *self.input_shape), "float64", seed=seed)
        rng = np.random.default_rng(seed)
        for name, p in model.parameters().items():
            if name.endswith("moving_variance"):
                p[...] = rng.uniform(0.5, 1.5, p.shape)
            elif name.endswith("gamma"):
                p[...] = rng.uniform(0.5, 1.5, p.shape)
            elif not name.endswith("kernel"):
                p[...] = rng.standard_normal(p.shape) * 0.3
        return model


# ---------------------------------------------------------------------------------- the strategy

def _fits(size, k, d, padding) -> bool:
    return padding == "same" or P.effective_kernel(k, d) <= size


def _out(size, k, s, d, padding) -> int:
    return P.axis_output_size(size, k, s, d, padding.upper())[0]


@st.composite
def _window(draw, h, w, *, max_k=3, dilate=True, square_strides=False):
    """kernel, strides, dilation and padding valid for an (h, w) input; shapes by construction."""
    padding = draw(st.sampled_from(["valid", "same"]))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if square_strides:
        strides = (strides[0], strides[0])
    dilation = draw(st.integers(1, 2)) if dilate and strides == (1, 1) else 1
    limit = [max_k if padding == "same" else max(1, min(max_k, (n - 1) // dilation + 1)) for n in (h, w)]
    kernel = (draw(st.integers(1, limit[0])), draw(st.integers(1, limit[1])))
    if not (_fits(h, kernel[0], dilation, padding) and _fits(w, kernel[1], dilation, padding)):
        dilation = 1
    out = (_out(h, kernel[0], strides[0], dilation, padding), _out(w, kernel[1], strides[1], dilation, padding))
    return {"kernel_size": kernel, "strides": strides, "dilation_rate": dilation, "padding": padding}, out




def activation_names() -> list[str]:
    """Every activation of the registry (npcnn's layers and Keras take each by name)."""
    return [name for name, family in FAMILY.items() if family == "activations"]

BLOCKS = ["conv", "conv_bn", "depthwise", "conv_transpose", "max_pool", "avg_pool", "group_norm", "layer_norm",
          "activation"]
MAX_TRANSPOSE_OUT = 12  # a stride-2 Conv2DTranspose doubles H and W; keep the networks small


@st.composite
def architectures(draw, max_blocks: int = 4) -> Architecture:
    """Random valid Sequential CNNs (float64, NHWC), small enough for a fast comparison."""
    h, w, c = draw(st.integers(3, 9)), draw(st.integers(3, 9)), draw(st.integers(1, 3))
    names = activation_names()
    activations = st.sampled_from([None, *names])
    arch = Architecture((h, w, c), batch=draw(st.integers(2, 4)), classes=draw(st.integers(2, 5)))

    def add(cls, **config):
        arch.layers.append({"class_name": cls, "config": config})

    for block in draw(st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=max_blocks)):
        if block in ("conv", "conv_bn"):
            win, (h, w) = draw(_window(h, w))
            c = draw(st.integers(1, 4))
            if block == "conv":
                add("Conv2D", filters=c, activation=draw(activations), **win)
            else:  # the usual bias-free Conv -> BN -> nonlinearity block
                add("Conv2D", filters=c, use_bias=False, **win)
                add("BatchNormalization", momentum=draw(st.sampled_from([0.99, 0.9])))
                add("Activation", activation=draw(st.sampled_from(names)))
        elif block == "depthwise":  # TF's DepthwiseConv2dNative needs equal strides on CPU
            win, (h, w) = draw(_window(h, w, square_strides=True))
            mult = draw(st.integers(1, 2))
            add("DepthwiseConv2D", depth_multiplier=mult, activation=draw(activations), **win)
            c *= mult
        elif block == "conv_transpose":  # no dilation: TF's dilated conv backprop fails on CPU
            padding = draw(st.sampled_from(["valid", "same"]))
            kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
            can_double = all(n * 2 + 2 <= MAX_TRANSPOSE_OUT for n in (h, w))
            strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if can_double else (1, 1)
            c = draw(st.integers(1, 4))
            add("Conv2DTranspose", filters=c, kernel_size=kernel, strides=strides, padding=padding,
                activation=draw(activations))
            h, w = (L.transpose_output_size(n, k, s, 1, padding) for n, k, s in zip((h, w), kernel, strides))
        elif block in ("max_pool", "avg_pool"):
            win, (h, w) = draw(_window(h, w, dilate=False))
            add("MaxPooling2D" if block == "max_pool" else "AveragePooling2D", pool_size=win["kernel_size"],
                strides=win["strides"], padding=win["padding"])
        # Normalising a single element (variance exactly 0) turns rounding into output error
        # amplified by 1/sqrt(epsilon); such degenerate layers are not generated.
        elif block == "group_norm" and h * w * c >= 2:
            groups = [g for g in range(1, c + 1) if c % g == 0 and h * w * (c // g) >= 2]
            add("GroupNormalization", groups=draw(st.sampled_from(groups)))
        elif block == "layer_norm" and c >= 2:
            add("LayerNormalization")
        elif block in ("group_norm", "layer_norm"):
            continue
        else:
            add("Activation", activation=draw(st.sampled_from(names)))
    if draw(st.booleans()):
        add("Flatten")
    else:
        add("GlobalAveragePooling2D")
    if draw(st.booleans()):
        add("Dense", units=draw(st.integers(2, 6)), activation=draw(st.sampled_from(names)))
    add("Dense", units=arch.classes)
    return arch


# ------------------------------------------------------------------------------- the tolerance

def _layer_terms(layer: L.Layer, in_shape, out_shape, batch: int) -> int:
    """How many rounded terms one element of this layer's output, or of its weight gradients, sums."""
    spatial_out = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    if isinstance(layer, (L.Conv2D, L.DepthwiseConv2D, L.Conv2DTranspose)):
        kernel = layer.params["kernel"].shape
        k = {L.Conv2D: int(np.prod(kernel[:3])), L.DepthwiseConv2D: int(np.prod(layer.kernel_size)),
             L.Conv2DTranspose: int(np.prod(kernel[:2])) * int(kernel[3])}[type(layer)]
        return max(k, batch * spatial_out)
    if isinstance(layer, L.Dense):
        return max(in_shape[-1], batch * spatial_out)
    # A normalisation's gain x / sqrt(var + epsilon) reaches 1 / sqrt(epsilon) when var -> 0: an
    # amplification a counts as a**2 = 1 / epsilon times the terms in the random-walk model.
    if isinstance(layer, L.BatchNormalization):
        return int(batch * int(np.prod(in_shape[1:-1])) / layer.epsilon)
    if isinstance(layer, (L.GroupNormalization, L.LayerNormalization)):
        return int(int(np.prod(in_shape[1:])) / layer.epsilon)
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        return int(np.prod(layer.pool_size))
    if isinstance(layer, L.GlobalAveragePooling2D):
        return int(np.prod(in_shape[1:3]))
    return 1


def network_terms(model: npcnn.Sequential, batch: int, classes: int) -> int:
    """Sum over layers of their accumulated terms (rounding errors of successive layers add up)."""
    shape, total = (batch, *model.input_shape[1:]), classes + batch  # the loss: softmax and batch mean
    for layer in model.layers:
        out = layer.compute_output_shape(shape)
        total += _layer_terms(layer, shape, out, batch)
        shape = out
    return total


# ------------------------------------------------------------------------------------ the check

def _keras_step(kmodel, x, y):
    """Keras's forward (layer by layer, training mode), loss and gradients, as GradientTape sees them."""
    tf, keras = tensorflow(), keras_module()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64")
    outputs = []
    with tf.GradientTape() as tape:
        h = tf.constant(x)
        for layer in kmodel.layers:
            h = layer(h, training=True)
            outputs.append(h)
        loss = loss_fn(tf.constant(y), h)
    grads = tape.gradient(loss, kmodel.trainable_variables)
    return [o.numpy() for o in outputs], float(loss.numpy()), [g.numpy() for g in grads]


def _optimizers(name: str):
    keras = keras_module()
    if name == "sgd":
        return npcnn.SGD(learning_rate=0.05, momentum=0.9), keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    if name == "adam":
        return npcnn.Adam(learning_rate=0.01), keras.optimizers.Adam(learning_rate=0.01)
    if name == "rmsprop":
        return npcnn.RMSprop(learning_rate=0.005), keras.optimizers.RMSprop(learning_rate=0.005)
    raise ValueError(f"unknown optimizer {name!r}; use sgd, adam or rmsprop")


def check_network(arch: Architecture, optimizer: str = "adam", steps: int = STEPS, seed: int = 0,
                  implementation=None, npcnn_optimizer=None) -> Outcome:
    """Compare an architecture in npcnn and Keras (float64); see the module docstring.

    ``implementation(model) -> model`` may replace the npcnn model under test (e.g. a user's variant
    holding the same weights); ``npcnn_optimizer`` replaces npcnn's optimizer (both for tests that
    show a deliberately wrong component is caught).
    """
    from npcnn.keras_compat import to_keras  # deferred: the code under test, imported only where it is run

    rng = np.random.default_rng(seed)
    batches = [(rng.standard_normal((arch.batch, *arch.input_shape)), rng.integers(0, arch.classes, arch.batch))
               for _ in range(max(steps, 1))]
    x, y = batches[0]
    case = Case(op="network", params={"architecture": arch.describe(), "layers": arch.layers,
                                      "input_shape": list(arch.input_shape), "batch": arch.batch,
                                      "classes": arch.classes, "optimizer": optimizer, "steps": steps},
                arrays={"x": x}, dy=None, dtype="float64", seed=seed)
    honest = arch.build(seed)
    try:
        kmodel = to_keras(honest)
        opt, kopt = _optimizers(optimizer)
        k_outs, k_loss, k_grads = _keras_step(kmodel, x, y)
    except Exception as e:  # noqa: BLE001 - the reference could not run this network
        return Outcome(case, REFERENCE_UNSUPPORTED, paths=["keras"], message=f"{type(e).__name__}: {e}")
    reference_opt, opt = opt, npcnn_optimizer or opt
    outcome = Outcome(case, PASS, paths=["keras"], impl="npcnn.Sequential")
    try:
        model = implementation(honest) if implementation else honest
        model.compile(opt, npcnn.SparseCategoricalCrossentropy(from_logits=True))
        outs, h = [], x
        for layer in model.layers:
            h = layer.forward(h, training=True)
            outs.append(h)
        loss, d_logits = model.loss.value_and_grad(y, h)
        model.backward(d_logits)
        grads = model.gradients()
    except Exception:  # noqa: BLE001
        outcome.status, outcome.message = IMPLEMENTATION_ERROR, traceback.format_exc(limit=6)
        return outcome

    terms = network_terms(honest, arch.batch, arch.classes)
    activation_scale = rms(x)
    for layer, out, k_out in zip(model.layers, outs, k_outs):
        activation_scale = max(activation_scale, rms(k_out))
        tol = tolerance("float64", terms, k_out, activation_scale)
        outcome.diffs.append(compare(out, k_out, tol, tensor=f"out[{layer.name}]",
                                     path="keras", channel_axis=3 if k_out.ndim == 4 else None,
                                     spatial_axes=(1, 2) if k_out.ndim == 4 else None))
    outcome.diffs.append(compare(np.asarray(loss), np.asarray(k_loss), tolerance("float64", terms, k_loss),
                                 tensor="loss", path="keras"))
    grad_scale = max((rms(g) for g in k_grads), default=0.0)
    for (name, g), kg in zip(grads.items(), k_grads):
        outcome.diffs.append(compare(g, kg, tolerance("float64", terms, kg, grad_scale), tensor=f"d[{name}]",
                                     path="keras"))

    if steps:
        try:
            _train(model, kmodel, opt, kopt, batches, grads, k_grads)
        except Exception:  # noqa: BLE001
            outcome.status, outcome.message = IMPLEMENTATION_ERROR, traceback.format_exc(limit=6)
            return outcome
        grad_atol = tolerance("float64", terms, np.zeros(1), grad_scale).atol
        carried = steps * update_gain(reference_opt, steps) * grad_atol
        for (name, p), v in zip(model.parameters().items(), kmodel.weights):
            expected = v.numpy()
            base = tolerance("float64", terms * steps, expected, rms(expected))
            tol = Tolerance(atol=base.atol + carried, rtol=base.rtol, terms=base.terms, scale=base.scale)
            outcome.diffs.append(compare(p, expected, tol, tensor=f"{name}@step{steps}", path=f"keras {optimizer}"))
    if outcome.failures:
        outcome.status = MISMATCH
        outcome.message = f"first mismatch: {outcome.failures[0].tensor}"
    return outcome


OPTIMIZERS = ("sgd", "adam", "rmsprop")   # what `crosscheck run --networks` trains with (SGD: momentum 0.9)


def fuzz_networks(optimizer: str, *, examples: int, seed: int, on_outcome=None) -> list[Outcome]:
    """Check ``examples`` random architectures with ``optimizer``, drawn deterministically from ``seed``."""
    return fuzz_outcomes(st.tuples(architectures(), st.integers(0, 2**31 - 1)),
                         lambda drawn: check_network(drawn[0], optimizer, seed=drawn[1]),
                         examples=examples, seed_key=f"network:{optimizer}:{seed}", on_outcome=on_outcome)


def replay_network(case: Case) -> Outcome:
    """Re-run a saved network case (``crosscheck replay``): the architecture and seed are in the case."""
    p = case.params
    arch = Architecture(tuple(p["input_shape"]), p["batch"], p["classes"], p["layers"])
    return check_network(arch, p["optimizer"], steps=p["steps"], seed=case.seed)


def update_gain(opt, steps: int) -> float:
    """The optimizer's largest d(update) / d(gradient) over ``steps`` steps (see the module docstring)."""
    if isinstance(opt, npcnn.Adam):
        return opt.current_learning_rate * float(np.sqrt(1 - opt.beta_2 ** steps)) / opt.epsilon
    if isinstance(opt, npcnn.SGD):
        return opt.current_learning_rate * (1 + opt.momentum) / (1 - opt.momentum) if opt.momentum < 1 else np.inf
    if isinstance(opt, npcnn.RMSprop):
        return opt.current_learning_rate / np.sqrt(opt.epsilon) / (1 - opt.momentum)
    raise TypeError(f"no update gain known for {type(opt).__name__}")


def _train(model, kmodel, opt, kopt, batches, grads, k_grads):
    """``len(batches)`` optimizer steps in both; the first uses the gradients already computed."""
    opt.apply(grads, model.trainable_parameters())
    kopt.apply(k_grads, kmodel.trainable_variables)
    for x, y in batches[1:]:
        model.train_step(x, y)
        _, _, k_grads = _keras_step(kmodel, x, y)
        kopt.apply(k_grads, kmodel.trainable_variables)
