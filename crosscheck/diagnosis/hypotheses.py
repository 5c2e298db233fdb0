"""The hypotheses of diagnosis, one function each: ``hypothesis(info, case, diff, actual, expected, tol)
-> [entry, ...]`` builds what the implementation would have produced had it made one common mistake
and keeps the label when the actual tensor matches that under the comparison's tolerance.
Hypotheses that change the case recompute TensorFlow's reference on the changed case."""
from __future__ import annotations

from fractions import Fraction
from itertools import permutations
from typing import Callable

import numpy as np

from .. import geometry as G
from ..case import VJP_Y, Case, TensorDiff
from ..compare import within
from ..opinfo import OpInfo
from ..ops.pooling import max_pool_tie_gradient
from ..oracle.reference import compute_reference
from ..tolerance import Tolerance
from .labels import entry

MAX_SHIFT = 2


def filter_array(info: OpInfo | None) -> str | None:
    """The op's (first) filter array, or None."""
    return info.filter_arrays[0] if info is not None and info.filter_arrays else None


def explicitly_padded(info: OpInfo | None) -> bool:
    """Whether the op has a window whose padding may be written as explicit pairs."""
    return info is not None and bool(info.geometry) and info.params.get("padding") is not None \
        and info.params["padding"].kind == "padding"



# ------------------------------------------------------------------------------------- helpers

def _matches(actual, alternative, tol, scale: float = 1.0) -> tuple[bool, float]:
    t = Tolerance(atol=tol.atol * max(abs(scale), 1e-300), rtol=tol.rtol, terms=0, scale=0.0)
    return within(actual, alternative, t)


def _falls(diff: TensorDiff, new_err: float) -> str:
    return f"the max error falls from {diff.max_abs_err:.3g} to {new_err:.2g}"


def _spatial_axes(case: Case, tensor: str, info: OpInfo):
    if info.filter_tensors and tensor in info.filter_tensors:
        return (0, 1)
    if case.params.get("data_format", "NHWC") == "NCHW":
        return (2, 3)
    if case.op in ("batch_normalization", "group_normalization") and case.params.get("axis", -1) in (1, -3):
        return (2, 3)
    return (1, 2)


def _recompute(case: Case, path: str, tensor: str, **changes) -> np.ndarray | None:
    """TensorFlow's ``tensor`` on a changed copy of ``case`` (arrays / params / dy replaced)."""
    arrays = dict(case.arrays, **changes.get("arrays", {}))
    params = dict(case.params, **changes.get("params", {}))
    dy = changes.get("dy", case.dy)
    ref = compute_reference(Case(case.op, params, arrays, dy, case.dtype, case.seed), prefer=path)
    return next(iter(ref.paths.values())).get(tensor)



# ---------------------------------------------------------------------------------- hypotheses

def shape_hypotheses(case, diff, actual, expected, tol, info=None) -> list[dict]:
    found = [entry("shape-mismatch", f"shape {actual.shape}, TensorFlow gives {expected.shape}")]
    swap = _hw_swap(case, diff.tensor, info, expected.ndim)
    if swap is not None and actual.ndim == 4 and (expected.transpose(swap).shape == actual.shape
                                                   or _swapped_rule(info, case, diff.tensor, actual)):
        found.append(entry("hw-swapped", f"the shape {actual.shape} is what TensorFlow's output-size rule gives with "
                                         f"the input's H and W swapped (TensorFlow: {expected.shape}): a height "
                                         "computed from the width, or the reverse?"))
        return found + crop_at_zero_pad(case, diff, actual, expected, info)
    if actual.ndim == expected.ndim and sorted(actual.shape) == sorted(expected.shape):
        for perm in _permutations(expected.ndim):
            if expected.transpose(perm).shape == actual.shape and _matches(actual, expected.transpose(perm), tol)[0]:
                swap = _hw_swap(case, diff.tensor, info, expected.ndim)
                label = "hw-swapped" if swap is not None and tuple(perm) == swap else (
                    "transposed" if expected.ndim == 2 else "layout-mixup")
                found.append(entry(label, f"equals TensorFlow's tensor with axes permuted {perm}"
                                          + (" (H and W swapped)" if label == "hw-swapped" else "")))
                break
    found += crop_at_zero_pad(case, diff, actual, expected, info)
    return found


def _swapped_rule(info, case, tensor, actual) -> bool:
    """Whether a forward output's H and W are the output-size rule applied to the input's W and H."""
    if info is None or not info.geometry or tensor not in info.outputs + (VJP_Y,):
        return False
    try:
        args = info.geometry(info.resolve(case))
        pads = G.padtype_to_pads(args.in_sizes, args.window, args.strides, args.dilations, args.padding)
        out = G.output_sizes(tuple(reversed(args.in_sizes)), args.window, args.strides, args.dilations, pads)
    except Exception:
        return False
    ah, aw = _spatial_axes(case, tensor, info)
    return (actual.shape[ah], actual.shape[aw]) == tuple(out) and tuple(out) != tuple(args.resolve().out)


def _hw_swap(case, tensor, info, ndim):
    if ndim != 4 or info is None:
        return None
    ah, aw = _spatial_axes(case, tensor, info)
    perm = list(range(4))
    perm[ah], perm[aw] = aw, ah
    return tuple(perm)


def crop_at_zero_pad(case, diff, actual, expected, info) -> list[dict]:
    """An input gradient cropped from the padded one with [pad:-pad]: empty along an unpadded axis."""
    if info is None or actual.ndim != 4 or not info.geometry or not diff.tensor.startswith("d_"):
        return []
    ah, aw = _spatial_axes(case, diff.tensor, info)
    try:
        pads = info.window(case).pads
    except Exception:
        return []
    empty = [axis for axis, a, (before, after) in zip("HW", (ah, aw), pads)
             if actual.shape[a] == 0 and expected.shape[a] > 0 and before == after == 0]
    if not empty:
        return []
    return [entry("crop-empty-at-zero-pad", f"{diff.tensor} has no rows/columns along {', '.join(empty)} "
                                            f"(shape {actual.shape}) where the case's padding is 0: "
                                            "x[pad:-pad] is empty when pad == 0; crop with x[pad:pad + H]")]


def _permutations(n: int):
    return [p for p in permutations(range(n)) if p != tuple(range(n))]


def nan_inf(info, case, diff, actual, expected, tol) -> list[dict]:
    a_bad, e_bad = ~np.isfinite(actual), ~np.isfinite(expected)
    extra, missing = int((a_bad & ~e_bad).sum()), int((e_bad & ~a_bad).sum())
    if not extra and not missing:
        return []
    parts = []
    if extra:
        parts.append(f"{extra} NaN/Inf elements where TensorFlow is finite "
                     f"({int(np.isnan(actual).sum())} NaN, {int(np.isinf(actual).sum())} Inf in all)")
    if missing:
        parts.append(f"{missing} finite elements where TensorFlow has NaN/Inf")
    if extra and np.isfinite(case_arrays_max(case)):
        parts.append("the inputs are finite: an overflow (e.g. exp without subtracting the max) or 0/0")
    found = [entry("nan-inf-mismatch", "; ".join(parts))]
    limit = float(np.log(np.finfo(case.dtype).max)) if case.dtype in ("float32", "float64") else np.inf
    if extra and limit < case_arrays_max(case) < np.inf:
        found.append(entry("numerically-unstable", f"non-finite results for inputs of magnitude "
                                                   f"{case_arrays_max(case):.3g}, past exp's overflow at {limit:.3g} "
                                                   f"in {case.dtype}: the max is not subtracted before exp?"))
    return found


def case_arrays_max(case: Case) -> float:
    return max((float(np.max(np.abs(a))) for a in case.arrays.values() if a.size and a.dtype.kind == "f"),
               default=0.0)


def sign_flip(info, case, diff, actual, expected, tol) -> list[dict]:
    ok, err = _matches(actual, -expected, tol)
    return [entry("sign-flip", "equals minus TensorFlow's: " + _falls(diff, err))] if ok else []


def describe_factor(c: float, case: Case) -> str:
    frac = Fraction(c).limit_denominator(64)
    text = f"{c:.6g}"
    if frac.denominator > 1 or frac.numerator != round(c) or abs(float(frac) - c) <= 1e-6 * abs(c):
        if abs(float(frac) - c) <= 1e-6 * max(abs(c), 1e-12):
            text = f"{c:.6g} = {frac.numerator}/{frac.denominator}" if frac.denominator > 1 else f"{frac.numerator}"
    sizes = {}
    for name, a in case.arrays.items():
        if a.ndim:
            sizes.setdefault(a.shape[0], f"N = {name}.shape[0]")
    for n, what in sizes.items():
        if n > 1 and abs(c * n - 1) < 1e-6:
            return f"{text} (= 1/N with {what} = {n}: an extra division by the batch size?)"
        if n > 1 and abs(c - n) < 1e-6 * n:
            return f"{text} (= N with {what} = {n}: a missing division by the batch size?)"
    return text


def scale_factor(info, case, diff, actual, expected, tol) -> list[dict]:
    """actual = c * expected; only where at least two elements of clear magnitude agree on c (any
    ratio fits one element). The entry carries ``factor`` (c) for crosscheck.check.conventions."""
    e, a = expected.astype(np.float64).ravel(), actual.astype(np.float64).ravel()
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))) or not np.any(e):
        return []
    if int(np.count_nonzero(np.abs(e) > tol.atol + tol.rtol * np.abs(e))) < 2:
        return []
    c = float(np.vdot(a, e) / np.vdot(e, e))
    if abs(c - 1) < 1e-3 or abs(c + 1) < 1e-3 or abs(c) < 1e-6:
        return []
    ok, err = _matches(actual, c * expected, tol, c)
    if not ok:
        return []
    return [{**entry("scale-factor", f"equals TensorFlow's times {describe_factor(c, case)}: " + _falls(diff, err)),
             "factor": c}]


def _rot180(w):
    return np.ascontiguousarray(w[::-1, ::-1])


def flipped_kernel(info, case, diff, actual, expected, tol) -> list[dict]:
    if diff.tensor in info.filter_tensors:
        ok, err = _matches(actual, _rot180(expected), tol)
        if ok:
            return [entry("flipped-kernel",
                          "equals TensorFlow's filter gradient rotated by 180°: " + _falls(diff, err))]
    name = filter_array(info)
    if name is None or name not in case.arrays:
        return []
    w = case.arrays[name]
    if w.shape[0] == 1 and w.shape[1] == 1:
        return []
    alt = _recompute(case, diff.path, diff.tensor, arrays={name: _rot180(w)})
    if alt is not None and diff.tensor in info.filter_tensors:
        alt = _rot180(alt)
    if alt is None or alt.shape != actual.shape:
        return []
    ok, err = _matches(actual, alt, tol)
    return [entry("flipped-kernel", f"after rotating the kernel by 180° {_falls(diff, err)}")] if ok else []


def kernel_hw_swapped(info, case, diff, actual, expected, tol) -> list[dict]:
    if diff.tensor in info.filter_tensors and expected.shape[0] == expected.shape[1] and expected.shape[0] > 1:
        ok, err = _matches(actual, expected.transpose(1, 0, 2, 3), tol)
        if ok:
            return [entry("kernel-hw-swapped", "equals TensorFlow's filter gradient with kernel rows and columns "
                                               "swapped: " + _falls(diff, err))]
    name = filter_array(info)
    if name is None or name not in case.arrays or case.arrays[name].shape[0] != case.arrays[name].shape[1] \
            or case.arrays[name].shape[0] == 1:
        return []
    alt = _recompute(case, diff.path, diff.tensor,
                     arrays={name: np.ascontiguousarray(case.arrays[name].transpose(1, 0, 2, 3))})
    if alt is not None and diff.tensor in info.filter_tensors:
        alt = alt.transpose(1, 0, 2, 3)
    if alt is None or alt.shape != actual.shape:
        return []
    ok, err = _matches(actual, alt, tol)
    if not ok:
        return []
    return [entry("kernel-hw-swapped", f"after swapping the kernel's height and width {_falls(diff, err)}")]


def spatial_shift(info, case, diff, actual, expected, tol) -> list[dict]:
    if actual.ndim != 4:
        return []
    ah, aw = _spatial_axes(case, diff.tensor, info)
    h, w = actual.shape[ah], actual.shape[aw]
    best = None
    for di in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dj in range(-MAX_SHIFT, MAX_SHIFT + 1):
            if (di, dj) == (0, 0) or h - abs(di) < max(2, h // 2) or w - abs(dj) < max(2, w // 2):
                continue
            a = _window(actual, ah, aw, max(0, -di), h - max(0, di), max(0, -dj), w - max(0, dj))
            e = _window(expected, ah, aw, max(0, di), h - max(0, -di), max(0, dj), w - max(0, -dj))
            if not np.any(e) and not np.any(a):
                continue
            ok, err = _matches(a, e, tol)
            if ok and (best is None or abs(di) + abs(dj) < abs(best[0]) + abs(best[1])):
                best = (di, dj, err)
    if best is None:
        return []
    di, dj, err = best
    return [entry("spatial-shift", f"actual[i, j] equals TensorFlow's [i{di:+d}, j{dj:+d}] wherever both exist "
                                   f"(max error there {err:.2g}); the rest lies on the border: an off-by-"
                                   f"{max(abs(di), abs(dj))} index or a wrong padding offset")]


def _window(a, ah, aw, h0, h1, w0, w1):
    ix = [slice(None)] * a.ndim
    ix[ah], ix[aw] = slice(h0, h1), slice(w0, w1)
    return a[tuple(ix)]


def same_padding_wrong_side(info, case, diff, actual, expected, tol) -> list[dict]:
    if not explicitly_padded(info):
        return []
    win = info.window(case)
    (t, b), (l, r) = win.pads
    if (t, l) == (b, r):
        return []
    if win.padding != "SAME" and info.geometry(info.resolve(case)).pads_below_window and \
            (max(b, t) >= win.window[0] or max(l, r) >= win.window[1]):
        return []
    swapped = G.full_padding(((b, t), (r, l)), case.params.get("data_format", "NHWC"))
    alt = _recompute(case, diff.path, diff.tensor, params={"padding": swapped})
    if alt is None or alt.shape != actual.shape:
        return []
    ok, err = _matches(actual, alt, tol)
    if not ok:
        return []
    return [entry("same-padding-wrong-side", f"with padding (top, bottom) = ({b}, {t}), (left, right) = ({r}, {l}) "
                                             f"instead of TensorFlow's ({t}, {b}), ({l}, {r}) {_falls(diff, err)}")]


def layout_mixup(info, case, diff, actual, expected, tol) -> list[dict]:
    found = []
    if actual.ndim == 4 and diff.tensor not in info.filter_tensors:   # a filter's: kernel-hw-swapped
        ah, aw = _spatial_axes(case, diff.tensor, info)
        if actual.shape[ah] == actual.shape[aw] > 1:
            perm = list(range(4))
            perm[ah], perm[aw] = aw, ah
            ok, err = _matches(actual, expected.transpose(perm), tol)
            if ok:
                found.append(entry("hw-swapped", "equals TensorFlow's with H and W swapped: " + _falls(diff, err)))
    alt = _other_layout_reference(case, diff, info)
    if alt is not None and alt.shape == actual.shape:
        ok, err = _matches(actual, alt, tol)
        if ok:
            found.append(entry("layout-mixup", "equals TensorFlow's result when the NCHW buffers are read as NHWC "
                                               "(a reshape where a transpose was needed): " + _falls(diff, err)))
    return found


def _other_layout_reference(case: Case, diff: TensorDiff, info: OpInfo):
    """Reinterpret every NCHW array's buffer as NHWC of the same size (what x.reshape(-1, C) on an
    NCHW array does) and compute TF's answer; the result is reinterpreted back."""
    fmt = case.params.get("data_format")
    norm_axis = case.op in ("batch_normalization", "group_normalization") and case.params.get("axis") in (1, -3)
    if not (fmt == "NCHW" or norm_axis) or diff.tensor in info.filter_tensors:
        return None

    def as_nhwc(a):
        if a is None or a.ndim != 4:
            return a
        n, c, h, w = a.shape
        return np.ascontiguousarray(a).reshape(n, h, w, c)

    arrays = {k: (v if k == filter_array(info) else as_nhwc(v)) for k, v in case.arrays.items()}
    params = {"data_format": "NHWC"} if fmt == "NCHW" else {"axis": -1}
    for key in ("input_sizes", "output_shape"):
        if key in case.params:
            n, c, h, w = case.params[key]
            params[key] = [n, h, w, c]
    if fmt == "NCHW" and isinstance(case.params.get("padding"), list):
        pads = case.params["padding"]
        params["padding"] = [pads[0], pads[2], pads[3], pads[1]]
    alt = _recompute(case, diff.path, diff.tensor, arrays=arrays, params=params, dy=as_nhwc(case.dy))
    return None if alt is None else alt.reshape(-1)[: int(np.prod(diff.expected_shape))].reshape(diff.expected_shape)


def border_only(info, case, diff, actual, expected, tol) -> list[dict]:
    if actual.ndim != 4 or not diff.spatial_map:
        return []
    grid = np.array(diff.spatial_map).any(axis=0)
    h, w = grid.shape
    band = 1
    if info is not None and info.geometry:
        try:
            band = max(1, max(info.window(case).window) - 1)
        except Exception:
            band = 1
    if h <= 2 * band or w <= 2 * band:
        return []
    interior = grid[band:h - band, band:w - band]
    if interior.any() or not grid.any():
        return []
    return [entry("border-only", f"all {int(grid.sum())} mismatched (i, j) positions are within {band} of the "
                                 f"border; the {interior.size} interior positions match (padding handling)")]


def stride_phase(info, case, diff, actual, expected, tol) -> list[dict]:
    if actual.ndim != 4 or not diff.spatial_map:
        return []
    if info is None or "strides" not in info.params:
        return []
    sh, sw = info.resolve(case).params["strides"]
    if sh == 1 and sw == 1:
        return []
    grid = np.array(diff.spatial_map).any(axis=0)
    h, w = grid.shape
    bad = sorted({(i % sh, j % sw) for i in range(h) for j in range(w) if grid[i, j]})
    all_phases = {(i % sh, j % sw) for i in range(h) for j in range(w)}
    if not bad or len(bad) == len(all_phases):
        return []
    good = sorted(all_phases - set(bad))
    return [entry("stride-phase", f"only positions with (i mod {sh}, j mod {sw}) in {bad} differ; phases {good} "
                                  f"match: typically dout not dilated (zeros inserted) by the stride in the backward")]


def undilated_dy(info, case, diff, actual, expected, tol) -> list[dict]:
    """conv2d d_input computed as if the stride were 1: dout scattered without zeros between its rows.
    The alternative is TensorFlow's input gradient of a stride-1 VALID conv over the padded input."""
    if case.op != "conv2d" or diff.tensor != "d_input":
        return []
    call = info.resolve(case)
    fmt, strides, dilations = call.data_format, call.params["strides"], call.params["dilations"]
    if tuple(strides) == (1, 1):
        return []
    win = info.window(case)
    w = case.arrays["filters"]
    dy = case.dy if fmt == "NHWC" else case.dy.transpose(0, 2, 3, 1)
    n, c = case.arrays["input"].shape[0], G.channels(case.arrays["input"].shape, fmt)
    if w.shape[2] != c:    # grouped: not this hypothesis
        return []
    keh, kew = win.effective
    sizes = [n, win.out[0] + keh - 1, win.out[1] + kew - 1, c]
    full = next(iter(compute_reference(Case("conv2d_backprop_input", {"input_sizes": sizes, "strides": [1, 1],
                                                                      "padding": "VALID", "dilations": list(dilations)},
                                            {"filters": w, "out_backprop": np.ascontiguousarray(dy)}, None, case.dtype,
                                            case.seed), first_only=True).paths.values()))["y"]
    (t, _), (l, _) = win.pads
    in_h, in_w = win.in_sizes
    alt = np.zeros((n, in_h, in_w, c), dtype=full.dtype)
    part = full[:, t:t + in_h, l:l + in_w]
    alt[:, :part.shape[1], :part.shape[2]] = part
    if fmt == "NCHW":
        alt = alt.transpose(0, 3, 1, 2)
    ok, err = _matches(actual, alt, tol)
    if not ok:
        return []
    return [entry("stride-ignored-in-dX", f"equals the input gradient of a stride-1 conv: each window's gradient "
                                          f"added at (i, j) instead of (i * stride, j * stride), i.e. dout not "
                                          f"dilated by the stride {tuple(strides)}: " + _falls(diff, err))]


def maxpool_ties(info, case, diff, actual, expected, tol) -> list[dict]:
    if case.op != "max_pool2d" or diff.tensor != "d_input":
        return []
    call = info.resolve(case)
    found = []
    for policy, label, what in (("all", "maxpool-all-ties", "every tied maximum gets the full gradient"),
                                ("split", "maxpool-tie-policy", "tied maxima split the gradient equally"),
                                ("last", "maxpool-tie-policy", "the last maximum in row-major order gets it")):
        alt, ties = max_pool_tie_gradient(call, policy)
        if ties == 0:
            return []
        ok, err = _matches(actual, alt, tol)
        if ok:
            found.append({**entry(label, f"{ties} windows have tied maxima; the actual gradient is the one where "
                                         f"{what} (TensorFlow gives it to the first maximum in row-major order): "
                                         + _falls(diff, err)), "rule": policy})
            break
    return found


def known_mistakes(info, case, diff, actual, expected, tol) -> list[dict]:
    """The op's well-known wrong formulations (OpInfo.mistakes), computed by TensorFlow on the case."""
    if info is None or not info.mistakes:
        return []
    tensor = "y" if diff.tensor == VJP_Y else diff.tensor
    found = []
    for label, (evidence, tensors) in info.mistakes(info.resolve(case)).items():
        for name, alt in tensors.items():
            if name.split("@")[0] != tensor or np.shape(alt) != actual.shape:
                continue
            ok, err = _matches(actual, alt, tol)
            if ok:
                found.append(entry(label, f"{evidence}: {_falls(diff, err)}"))
                break
    return found


def accumulator_overwritten(info, case, diff, actual, expected, tol) -> list[dict]:
    """A bias gradient (the sum of dy over every axis but the channel's) that kept only the last
    loop iteration's term: dy at the last position, or the last sample's sum."""
    if diff.tensor != "d_bias" or case.dy is None or actual.ndim != 1:
        return []
    dy = np.asarray(case.dy, dtype=np.float64)
    channel = 1 if case.params.get("data_format") == "NCHW" else dy.ndim - 1
    dy = np.moveaxis(dy, channel, -1).reshape(dy.shape[0], -1, dy.shape[channel])
    if dy.shape[0] * dy.shape[1] < 2:
        return []
    for what, alt in (("the upstream gradient at the last position", dy[-1, -1]),
                      ("the last sample's upstream gradient summed", dy[-1].sum(axis=0))):
        ok, err = _matches(actual, alt, tol)
        if ok:
            return [entry("accumulator-overwritten", f"equals {what}, not the sum over all: {_falls(diff, err)}")]
    return []



def precision_only(info, case, diff, actual, expected, tol) -> list[dict]:
    if case.dtype != "float32" or not np.all(np.isfinite(actual)):
        return []
    excess = diff.max_abs_err / max(tol.atol + tol.rtol * float(np.max(np.abs(expected))), 1e-300)
    if excess > 4 or diff.mismatched > max(1, diff.total // 100):
        return []
    return [entry("precision-only", f"{diff.mismatched} of {diff.total} elements exceed the float32 tolerance, by at "
                                    f"most {excess:.2g}x: consistent with float32 rounding in another summation "
                                    f"order; the float64 check decides")]


HYPOTHESES: list[Callable] = [nan_inf, sign_flip, scale_factor, flipped_kernel, kernel_hw_swapped, spatial_shift,
                              same_padding_wrong_side, layout_mixup, border_only, stride_phase, undilated_dy,
                              maxpool_ties, known_mistakes, accumulator_overwritten, precision_only]

