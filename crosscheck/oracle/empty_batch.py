"""The workaround of quirk empty-output-filter-gradient: TensorFlow's filter gradient of a window
op whose output has an empty H or W and a non-empty batch is uninitialised memory (or a crash), so
the reference runs on the case's empty batch (the same empty sums, which TensorFlow computes as 0)
and the batch size is put back on the batch-carrying tensors."""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .. import geometry as G
from ..case import Case
from ..opinfo import Call


def on_the_empty_batch(compute: Callable[[Call], dict], call: Call, attach: Callable[[Call], Call]) -> dict:
    """``compute(call)`` computed on ``call``'s empty batch (its quirks attached again by ``attach``),
    with the batch size put back on the tensors that carry it, which are empty (every 4-D tensor but
    the filters' ones, ``call.info.filter_tensors``)."""
    info = call.info
    filter_tensors = tuple(info.filter_tensors)
    n = G.window_input_shape(call)[0]
    w_name = info.window_operands[1]
    emptied = attach(_batch_emptied(call, w_name, dy_has_batch="y" not in filter_tensors))
    tensors = {k: np.asarray(v) for k, v in compute(emptied).items()}
    return {k: _with_batch(v, n, k) if v.ndim == 4 and k not in filter_tensors else v for k, v in tensors.items()}


def _batch_emptied(call: Call, w_name: str | None, dy_has_batch: bool) -> Call:
    """``call`` with batch 0: its activation arrays (and dy if the output is one) sliced to [:0], a
    batch-giving shape parameter (input_sizes, output_shape) starting with 0."""
    arrays = {k: v if k == w_name or np.ndim(v) != 4 else v[:0] for k, v in call.arrays.items()}
    shape_param = call.info.window_operands[0] if call.info.window_operands[0] not in call.arrays else None

    def zero_batch(params: dict) -> dict:
        if shape_param not in params:
            return dict(params)
        shape = [int(v) for v in params[shape_param]]
        return {**params, shape_param: [0, *shape[1:]]}
    case = call.case
    dy = case.dy[:0] if case.dy is not None and dy_has_batch else case.dy
    return dataclasses.replace(call, case=Case(case.op, zero_batch(case.params), arrays, dy, case.dtype, case.seed),
                               params=zero_batch(call.params))


def _with_batch(a: np.ndarray, n: int, name: str) -> np.ndarray:
    if a.size:
        raise ValueError(f"{name} of shape {a.shape} is not empty: the empty-batch workaround does not apply")
    return np.zeros((n, *a.shape[1:]), a.dtype)
