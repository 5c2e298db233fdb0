"""Batch chunks on threads (npcnn.parallel): the im2col convs (their GEMMs on threads with BLAS
single-threaded), depthwise conv and pooling give the same bits whatever the thread count, the same
as sample by sample, and still work in a forked child."""
import os
import threading
import time

import numpy as np
import pytest

import npcnn
from npcnn import config
from npcnn.functional.im2col import CACHE_BLOCK_BYTES

# each sample of these inputs is larger than one cache block, so a batch of 3 is 3 chunks
SAMPLE = (40, 44, 80)
assert np.prod(SAMPLE) * 8 > CACHE_BLOCK_BYTES

CASES = [
    ("conv2d", dict(strides=1, padding="SAME"), (3, 3, SAMPLE[2], 8)),
    ("conv2d", dict(strides=2, padding="VALID"), (3, 3, SAMPLE[2] // 2, 6)),      # two groups
    ("conv2d", dict(strides=1, padding="SAME"), (3, 3, SAMPLE[2] // 8, 16)),      # 8 groups
    ("depthwise_conv2d", dict(strides=1, padding="SAME"), 1),
    ("depthwise_conv2d", dict(strides=2, padding="VALID", dilations=1), 2),
    ("depthwise_conv2d", dict(strides=1, padding=[[0, 0], [2, 1], [0, 3], [0, 0]], dilations=2), 1),
    ("max_pool2d", dict(ksize=3, strides=2, padding="SAME"), None),
    ("avg_pool2d", dict(ksize=3, strides=1, padding="SAME"), None),
]


def _arrays(op, multiplier, dtype, rng):
    """The input (and filters: ``multiplier`` is conv2d's filter shape, depthwise's multiplier)."""
    x = rng.standard_normal((3, *SAMPLE)).astype(dtype)
    if op == "conv2d":
        return [x, rng.standard_normal(multiplier).astype(dtype)]
    if op == "depthwise_conv2d":
        return [x, rng.standard_normal((3, 3, SAMPLE[2], multiplier)).astype(dtype)]
    return [x]


def _forward_and_grads(op, arrays, params, dy_seed=1):
    y, pullback = npcnn.vjp(op, *arrays, **params)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(y.dtype)
    return y, pullback(dy), dy


@pytest.fixture
def threads():
    yield config.set_num_threads
    config.set_num_threads(None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op, params, multiplier", CASES)
def test_thread_count_changes_no_bit(threads, op, params, multiplier, dtype):
    arrays = _arrays(op, multiplier, dtype, np.random.default_rng(0))
    threads(1)
    y1, grads1, _ = _forward_and_grads(op, arrays, params)
    threads(3)
    y3, grads3, _ = _forward_and_grads(op, arrays, params)
    assert any(t.name.startswith("npcnn") for t in threading.enumerate())   # the threaded path ran
    np.testing.assert_array_equal(y3, y1)
    for g3, g1 in zip(grads3, grads1):
        np.testing.assert_array_equal(g3, g1)


@pytest.mark.parametrize("op, params, multiplier", [c for c in CASES if c[0] != "conv2d"])
def test_chunks_compute_what_single_samples_do(threads, op, params, multiplier):
    """Output and input gradient per sample are those of that sample alone; the filter gradient is their sum.
    (Not for conv2d: a one-sample conv is one GEMM on BLAS's own threads, whose sums may round
    otherwise than the single-threaded GEMM of a chunk.)"""
    threads(2)
    arrays = _arrays(op, multiplier, "float64", np.random.default_rng(0))
    y, grads, dy = _forward_and_grads(op, arrays, params)
    for s in range(3):
        ys, pullback = npcnn.vjp(op, arrays[0][s:s + 1], *arrays[1:], **params)
        np.testing.assert_array_equal(ys, y[s:s + 1])
        per_sample = pullback(dy[s:s + 1])
        np.testing.assert_array_equal(per_sample[0], grads[0][s:s + 1])
        if len(arrays) > 1:
            per_sample_df = per_sample[1] if s == 0 else per_sample_df + per_sample[1]
    if len(arrays) > 1:
        np.testing.assert_allclose(grads[1], per_sample_df, rtol=1e-12, atol=1e-12)


def test_a_forked_child_gets_threads_of_its_own(threads):
    """The parent's pool threads do not exist in a forked child: an inherited pool would hang."""
    threads(2)
    op, params, multiplier = CASES[0]
    arrays = _arrays(op, multiplier, "float64", np.random.default_rng(0))
    expected = npcnn.vjp(op, *arrays, **params)[0]   # starts the parent's pool
    pid = os.fork()
    if pid == 0:   # the child: exit 0 only if the threaded op finishes with the parent's result
        try:
            os._exit(0 if np.array_equal(npcnn.vjp(op, *arrays, **params)[0], expected) else 1)
        finally:
            os._exit(2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in the thread pool")


def test_chunks_mapped_from_a_chunk_run_inline(threads):
    """A chunk function that maps chunks itself must not wait on the pool it runs in."""
    from npcnn.parallel import map_chunks
    threads(2)
    result = []
    worker = threading.Thread(target=lambda: result.append(
        map_chunks(lambda c: map_chunks(lambda d: (c, d, threading.current_thread().name), [0, 1]), [0, 1])))
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "nested map_chunks deadlocked"
    (outer,) = result
    assert [[(c, d) for c, d, _ in inner] for inner in outer] == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]
    assert all(len({name for *_, name in inner}) == 1 for inner in outer)   # each inner map ran on one thread


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_not_a_positive_int(bad):
    with pytest.raises(ValueError, match="num_threads"):
        config.set_num_threads(bad)


def test_num_threads_reads_the_environment(monkeypatch, threads):
    monkeypatch.setenv("NPCNN_NUM_THREADS", "3")
    assert config.num_threads() == 3
    threads(1)
    assert config.num_threads() == 1


def test_convs_on_several_threads_leave_blas_as_they_found_it(threads):
    """Each conv limits BLAS to one thread while its chunks run; callers on several threads at once
    must not restore each other's limit (BLAS would stay single-threaded for good)."""
    from threadpoolctl import threadpool_info, threadpool_limits
    threads(2)
    rng = np.random.default_rng(0)
    arrays = _arrays("conv2d", CASES[0][2], "float32", rng)
    dy = rng.standard_normal((3, *SAMPLE[:2], 8)).astype(np.float32)
    with threadpool_limits(limits=2, user_api="blas"):
        callers = [threading.Thread(target=lambda: [npcnn.vjp("conv2d", *arrays, **CASES[0][1])[1](dy)
                                                    for _ in range(3)]) for _ in range(3)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(60)
        assert {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == {2}
