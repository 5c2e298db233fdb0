"""Which op a forward computes, told by its behaviour: the forward is called on probe inputs and its
output compared with candidate functions written here in NumPy (crosscheck's own formulas, not the
code under test's).

    identify(forward)   -> Identity: a registry op (relu, elu, sigmoid, softplus, tanh, softmax and
                           log_softmax over the last axis), a registry op with a fitted parameter
                           (leaky_relu(alpha)), a scaled activation ``a * f(b x)`` fitted by least
                           squares (LeCun's ``1.7159 * tanh(0.6667 x)``), a known activation TensorFlow
                           has no registry op for here (swish, GELU, mish, selu, ...), or nothing

A match is exact up to rounding: ``max |y - candidate| <= MATCH_RTOL * max(1, rms(candidate))`` on
every probe. The probes are standard normal values times 3 (both tails of every activation) of
shapes (4, 7) and (2, 3, 4, 5), the same values for every candidate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MATCH_RTOL = 1e-8
PROBE_SHAPES = ((4, 7), (2, 3, 4, 5))


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _erf(x):
    return np.vectorize(math.erf)(x)


# registry ops with no parameter, compared as the op (TensorFlow then judges the code)
REGISTRY_CANDIDATES = {
    "relu": lambda x: np.maximum(x, 0.0),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "sigmoid": _sigmoid,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "tanh": np.tanh,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
}
# activations with no registry op: named in the note, the backward judged by self-consistency
OTHER_CANDIDATES = {
    "swish (x * sigmoid(x))": lambda x: x * _sigmoid(x),
    "GELU (tanh approximation)": lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
    "GELU (sigmoid approximation, x * sigmoid(1.702 x))": lambda x: x * _sigmoid(1.702 * x),
    "GELU (exact, with erf)": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "mish (x * tanh(softplus(x)))": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0.0))),
    "softsign (x / (1 + |x|))": lambda x: x / (1 + np.abs(x)),
    "hard sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
}
# the functions a scaled activation a * f(b x) is built on
SCALABLE = {"tanh": np.tanh, "sigmoid": _sigmoid}


@dataclass(frozen=True)
class Identity:
    """What a forward computes. ``op``: a registry op TensorFlow can judge it by ("" when none);
    ``name``: how the note names it; ``params``: fitted parameters ({"alpha": ...} or {"a", "b"})."""
    op: str = ""
    name: str = ""
    params: tuple = ()

    @property
    def found(self) -> bool:
        return bool(self.name)

    def named_by(self, name: str) -> bool:
        """Whether a class or function called ``name`` says what this is (``GELU`` for GELU,
        ``ScaledTanh`` for a scaled tanh; ``ReLU`` does not say leaky_relu)."""
        key = self.name.split("(")[0].split(":")[0].lower().replace("_", "").replace(" ", "")
        return bool(key) and key in name.lower().replace("_", "")

    @property
    def tf_judged(self) -> bool:
        """Whether TensorFlow's op, with its default parameters, is the forward's reference."""
        return bool(self.op) and not self.params


def probes(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [3.0 * rng.standard_normal(shape) for shape in PROBE_SHAPES]


def _close(y, c) -> bool:
    y, c = np.asarray(y), np.asarray(c)
    if y.shape != c.shape or not np.all(np.isfinite(y)):
        return False
    return float(np.max(np.abs(y - c), initial=0.0)) <= MATCH_RTOL * max(1.0, float(np.sqrt(np.mean(c * c))))


def matches(y, candidate) -> bool:
    """Whether ``y`` equals ``candidate`` up to rounding, by the identification's match rule (same shape,
    finite, ``max |y - candidate| <= MATCH_RTOL * max(1, rms(candidate))``)."""
    return _close(y, candidate)


def outputs(forward, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """[(probe, forward(probe))] on the probes the forward takes (an output of another shape, or a
    raise, leaves the probe out); None when it takes none."""
    pairs = []
    for x in probes(seed):
        try:
            y = forward(x.copy())
        except Exception:   # noqa: BLE001 - a probe the code cannot take: try the next
            continue
        if isinstance(y, tuple) and y:   # (out, cache)
            y = y[0]
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if y.shape == x.shape:
            pairs.append((x, y))
    return pairs or None


def identify(forward, seed: int = 0) -> Identity:
    """The Identity of ``forward`` (x -> y, same shape), or an empty one when nothing fits."""
    pairs = outputs(forward, seed)
    if not pairs:
        return Identity()
    for op, fn in REGISTRY_CANDIDATES.items():
        # softmax over the rows of a matrix: a class may use axis=1, the last axis of a matrix only
        judged = [(x, y) for x, y in pairs if x.ndim == 2] if "softmax" in op else pairs
        if judged and all(_close(y, fn(x)) for x, y in judged):
            return Identity(op, op)
    alpha = _leaky_alpha(pairs)
    if alpha is not None:
        return Identity("leaky_relu", f"leaky_relu(alpha={alpha:.6g})", (("alpha", alpha),))
    for name, fn in OTHER_CANDIDATES.items():
        if all(_close(y, fn(x)) for x, y in pairs):
            return Identity("", name)
    for base, fn in SCALABLE.items():
        fitted = fit_scaled(fn, pairs)
        if fitted is not None:
            a, b = fitted
            return Identity("", f"scaled {base}: {a:.5g} * {base}({b:.4g} x)", (("a", a), ("b", b)))
    return Identity()


def _leaky_alpha(pairs) -> float | None:
    """The slope alpha of ``x if x > 0 else alpha * x`` (0 < alpha < 1, relu excluded), if it fits."""
    x = np.concatenate([p[0].reshape(-1) for p in pairs])
    y = np.concatenate([p[1].reshape(-1) for p in pairs])
    neg = x < 0
    if not neg.any() or not _close(y[~neg], x[~neg]):
        return None
    alpha = float(np.dot(y[neg], x[neg]) / np.dot(x[neg], x[neg]))
    if not 0.0 < alpha < 1.0 or not _close(y[neg], alpha * x[neg]):
        return None
    return alpha


def fit_scaled(fn, pairs) -> tuple[float, float] | None:
    """(a, b) with ``y = a * fn(b * x)`` on every probe (b > 0; (1, 1) excluded: that is fn itself),
    by least squares: for each b the best a is closed-form, b is found on a log grid and refined by
    golden-section search; None when the residual is not at rounding level."""
    x = np.concatenate([p[0].reshape(-1) for p in pairs])
    y = np.concatenate([p[1].reshape(-1) for p in pairs])

    def residual(b):
        f = fn(b * x)
        a = float(np.dot(f, y) / max(np.dot(f, f), 1e-300))
        return float(np.sum((y - a * f) ** 2)), a

    grid = np.logspace(-3, 2, 501)
    best = int(np.argmin([residual(b)[0] for b in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    g = (np.sqrt(5) - 1) / 2
    for _ in range(200):
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if residual(m1)[0] < residual(m2)[0]:
            hi = m2
        else:
            lo = m1
    b = 0.5 * (lo + hi)
    a = residual(b)[1]
    if not _close(y, a * fn(b * x)) or (abs(a - 1) < 1e-6 and abs(b - 1) < 1e-6):
        return None
    return a, float(b)
