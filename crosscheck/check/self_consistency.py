"""The self-consistency verdict: a backward judged against float64 central finite differences of the
code's *own* forward, for code that no TensorFlow op matches (a custom activation, a scaled tanh,
a whole network) and, beside TensorFlow's verdict, for code that one does.

For a forward ``f(a_1, ..., a_k) -> y`` (the input and every parameter array found) and the code's
gradients ``g_j`` of ``<f, dy>`` with a random upstream gradient ``dy`` (never all ones: with
``sum()`` as the loss many wrong gradients look right), each ``g_j`` is compared element by element
with

    fd_j[i] = (<f(a_j + h e_i), dy> - <f(a_j - h e_i), dy>) / 2h,   h = H * max(1, |a_j[i]|)

on a random subset of at most ``max_elements`` (64) elements of each array (all of them when fewer;
fewer, down to 8, when the forward is slow: a case's evaluations take about 10 s at most), one
element perturbed at a time, everything in float64.

Tolerance policy (finite differences are an estimate, unlike TensorFlow's gradient, so it is not
crosscheck/tolerance.py's rounding-error policy): an element passes when
``|g - fd| <= atol + RTOL * |fd|`` with

    RTOL = 1e-5                 the central difference's truncation error (h^2 |f'''| / 6, about
                                1e-11 relative for a smooth forward at H = 6e-6) with a wide margin;
                                a real backward bug (a missing factor, a dropped term) is off by
                                1e-2 or more
    atol = RTOL * rms(fd) + NOISE_SAFETY * eps * sum(|y * dy|) / h
                                the first term: elements that cancel to nearly zero are judged on
                                the tensor's scale; the second: the rounding error of the two
                                evaluations of ``<f, dy>`` (each off by about eps * sum|y * dy|),
                                divided by 2h

``H = eps ** (1/3)`` (6e-6 in float64), the step that balances truncation and rounding. A forward
that computes in float32 (its output is float32) gets float32's eps and a correspondingly coarser
step and tolerance (RTOL_FLOAT32). Cases are drawn from continuous distributions, so a kink (relu
at 0, a max-pool tie) within h of a sampled element has probability of order 1e-6 per element.
"""
from __future__ import annotations

import time

import numpy as np

from ..case import IMPLEMENTATION_ERROR, MISMATCH, PASS, Case, Outcome, TensorDiff
from ..compare import compare
from ..diagnosis import diagnose_tensor
from ..tolerance import Tolerance, rms

SELF_OP = "self-consistency"     # the op of a case judged only against the code's own forward
PATH = "own forward, by finite differences"   # "own": the reference is crosscheck's, not TensorFlow's
NO_OP_NOTE = "no TensorFlow op matches the forward; backward judged against your own forward"
CANNOT_JUDGE = "cannot be judged against its own forward: "   # a row whose cases all say this: cannot-check
MAX_ELEMENTS = 64
MIN_ELEMENTS = 8          # per array, whatever the time budget
TIME_BUDGET_S = 10.0      # forward evaluations of one case, shared by its arrays (a call may take 60 s)
RTOL = 1e-5
RTOL_FLOAT32 = 1e-2
NOISE_SAFETY = 16.0


def step_base(dtype) -> float:
    return float(np.finfo(dtype).eps) ** (1.0 / 3.0)


def judge_gradients(forward, arrays: dict, grads: dict, dy, *, seed: int, case: Case | None = None,
                    max_elements: int = MAX_ELEMENTS, missing_notes: dict | None = None,
                    time_budget: float = TIME_BUDGET_S) -> list[TensorDiff]:
    """A TensorDiff ``d_<name>`` per array of ``arrays`` ({name: float64 array}, in the order
    ``forward(**arrays) -> y`` takes them): the code's gradient ``grads[name]`` against central
    finite differences of ``forward`` on a random subset of elements (seeded by ``seed``).
    ``grads[name]`` None: the code computes no such gradient; ``missing_notes[name]`` says why it is
    not judged (no entry: the missing gradient fails). A slow forward gets fewer elements per array
    (at least MIN_ELEMENTS), so that the case's evaluations fit in ``time_budget`` seconds."""
    arrays = {n: np.array(a, dtype=np.float64, copy=True, order="C") for n, a in arrays.items()}   # C: perturbed in place through a flat view
    dy = np.asarray(dy, dtype=np.float64)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    y0 = np.asarray(forward(**{n: a.copy() for n, a in arrays.items()}))
    per_call = time.perf_counter() - started
    affordable = int(time_budget / max(2 * per_call * max(len(arrays), 1), 1e-9))
    max_elements = max(MIN_ELEMENTS, min(max_elements, affordable))
    eps = float(np.finfo(y0.dtype if y0.dtype.kind == "f" and y0.dtype.itemsize < 8 else np.float64).eps)
    rtol = RTOL if eps < 1e-10 else RTOL_FLOAT32
    diffs = []
    for name, a in arrays.items():
        tensor = "d_" + name
        g = grads.get(name)
        if g is None and (missing_notes or {}).get(name):
            d = TensorDiff(tensor, PATH, True, (), a.shape, 0.0, 0.0, total=int(a.size))
            d.judged, d.note = False, missing_notes[name]
            diffs.append(d)
            continue
        if g is None or np.shape(g) != a.shape:
            diffs.append(compare(g, np.zeros(a.shape), Tolerance(0.0, 0.0, 1, 0.0), tensor=tensor, path=PATH))
            continue
        picked = np.sort(rng.choice(a.size, size=min(a.size, max_elements), replace=False))
        fd, noise = _central_differences(forward, arrays, name, picked, dy, eps)
        actual = np.asarray(g, dtype=np.float64).reshape(-1)[picked]
        tol = Tolerance(atol=rtol * rms(fd) + float(noise.max(initial=0.0)), rtol=rtol, terms=1, scale=rms(fd))
        d = compare(actual, fd, tol, tensor=tensor, path=PATH)
        if not d.passed and case is not None:
            try:   # only the hypotheses that need no OpInfo apply (sign, scale, NaN, ...)
                d.diagnosis = [dict(e, evidence=e["evidence"].replace("TensorFlow's", "the finite differences'")
                                    .replace("TensorFlow", "finite differences"))
                               for e in diagnose_tensor(None, case, d, actual, fd, tol)]
            except Exception:   # noqa: BLE001 - a diagnosis is a hint; the verdict stands without it
                d.diagnosis = []
        for w in d.worst:   # positions in the subset -> indices in the array
            w["index"] = [int(i) for i in np.unravel_index(int(picked[w["index"][0]]), a.shape)]
        d.shape, d.expected_shape = a.shape, a.shape
        if picked.size < a.size:
            d.note = f"judged on {picked.size} of {a.size} elements (a random subset)"
        diffs.append(d)
    return diffs


def _central_differences(forward, arrays: dict, name: str, picked, dy, eps: float):
    """(finite-difference gradient, rounding-noise bound) at the flat indices ``picked`` of ``arrays[name]``."""
    base = step_base(np.float64) if eps < 1e-10 else step_base(np.float32)
    flat = arrays[name].reshape(-1)
    fd, noise = np.zeros(picked.size), np.zeros(picked.size)
    for k, i in enumerate(picked):
        original = flat[i]
        h = base * max(1.0, abs(original))
        values = []
        for sign in (1.0, -1.0):
            flat[i] = original + sign * h
            y = np.asarray(forward(**{n: a.copy() for n, a in arrays.items()}), dtype=np.float64)
            values.append((float(np.vdot(y, dy)), float(np.abs(y * dy).sum())))
        flat[i] = original
        fd[k] = (values[0][0] - values[1][0]) / (2 * h)
        noise[k] = NOISE_SAFETY * eps * (values[0][1] + values[1][1]) / (2 * h)
    return fd, noise


def self_outcome(case: Case, diffs: list[TensorDiff], impl: str, notes=()) -> Outcome:
    """The Outcome of a case judged by :func:`judge_gradients` (plus any forward diff)."""
    status = PASS if all(d.passed for d in diffs if d.judged) else MISMATCH
    return Outcome(case, status, paths=[PATH], diffs=diffs, notes=list(notes), impl=impl)


def raised(case: Case, impl: str, message: str) -> Outcome:
    return Outcome(case, IMPLEMENTATION_ERROR, message=message, impl=impl)
