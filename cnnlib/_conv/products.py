"""The matrix products both routes share: one per group of channels."""

from __future__ import annotations

import numpy as np

from .._parallel import blas_on_one_thread

# OpenBLAS runs a GEMM of m·n·k ≤ 65536·4 multiply-adds on one thread (interface/gemm.c,
# SMP_THRESHOLD_MIN · GEMM_MULTITHREAD_THRESHOLD) and splits a larger one over its threads. Just
# above that, the split costs more than it saves: on two busy cores an (8, 72) @ (72, 2560) product
# took 25 ms threaded and 0.06 ms as six one-thread pieces (notebook 09 trains 8-channel nets on
# 8×8 digits: every product is of that size). Products up to SPLIT_MAX_MNK are run as pieces of at
# most ONE_THREAD_MNK, cut along the rows of a or the columns of b (never along k: each entry is
# still one dot product); larger ones, where threads pay, go to BLAS whole. Inside ``cnnlib._parallel.run``'s
# threads the BLAS already runs on one thread, and every product goes to it whole.
ONE_THREAD_MNK = 65536 * 4
SPLIT_MAX_MNK = 1 << 22


def _matmul_2d(a, b, out=None):
    """a (r, k) @ b (k, c), in one-thread pieces when the product is small (see ONE_THREAD_MNK)."""
    (r, k), c = a.shape, b.shape[1]
    mnk = r * k * c
    if mnk <= ONE_THREAD_MNK or mnk > SPLIT_MAX_MNK or blas_on_one_thread.get():
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((r, c), dtype=np.result_type(a, b))
    if c >= r:  # cut the columns of b
        step = max(1, ONE_THREAD_MNK // (r * k))
        for j in range(0, c, step):
            np.matmul(a, b[:, j : j + step], out=out[:, j : j + step])
    else:  # cut the rows of a
        step = max(1, ONE_THREAD_MNK // (c * k))
        for i in range(0, r, step):
            np.matmul(a[i : i + step], b, out=out[i : i + step])
    return out


def group_matmul(a, b, out=None):
    """Stacked products a (G, r, k) @ b (G, k, c) -> (G, r, c), one per group of channels.

    G = 1 runs the 2-D product a[0] @ b[0], the one the ungrouped convolution has always run.
    k = 1 (∂E/∂x of a depthwise convolution: one kernel per group) is G outer products,
    computed as the broadcast a · b: each entry is the same single multiplication, without
    NumPy's per-group BLAS call (3.5-7x faster on a depthwise 56 x 56 block).
    """
    if a.shape[2] == 1 and a.shape[0] > 1:
        return np.multiply(a, b, out=out)
    if a.shape[0] == 1:
        return _matmul_2d(a[0], b[0], out=None if out is None else out[0])[None]
    if a.shape[1] * a.shape[2] * b.shape[2] <= ONE_THREAD_MNK:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=np.result_type(a, b))
    for g in range(a.shape[0]):
        _matmul_2d(a[g], b[g], out=out[g])
    return out
