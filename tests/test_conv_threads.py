"""The grid route's blocks run side by side on the BLAS's threads: the results are the loops', the
same bits on one thread as on several, also when convolutions run at once in several threads, and
the BLAS gets its threads back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given
from strategies import EXACT_TOL, fast_settings
from test_conv_family import family_cases, with_examples

import cnnlib as cl
from cnnlib import reference

# optional for cnnlib: without it (the NumPy-only venv) the blocks run one after another
threadpoolctl = pytest.importorskip("threadpoolctl")
threadpool_info, threadpool_limits = threadpoolctl.threadpool_info, threadpoolctl.threadpool_limits


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def forward_backward(x, w, b, dy, *args):
    y, cache = cl.conv2d_forward_with_cache(x, w, b, *args)
    return (y, *cl.conv2d_backward(dy, None, w, *args, cache=cache))


@fast_settings(40)
@with_examples
@given(case=family_cases())
def test_blocks_of_one_image_and_one_group_match_the_loops_on_any_number_of_threads(case):
    """Forced onto the grid with the smallest blocks (one image, one group each; ∂E/∂x both as a
    convolution of δ at stride 1 and by col2im otherwise), y and the gradients equal the loops',
    and one BLAS thread gives the same bits as the default (these small layers run their blocks
    in the calling thread: the layers below are large enough for the threads)."""
    x, w, b, dy = case.arrays()
    with cl.conv.forced_route("grid", block_bytes=1):
        got = forward_backward(x, w, b, dy, *case.args)
        with threadpool_limits(1):
            one_thread = forward_backward(x, w, b, dy, *case.args)
    want = (reference.conv2d_forward(x, w, b, *case.args), *reference.conv2d_backward(dy, x, w, *case.args))
    for a, r, a1 in zip(got, want, one_thread, strict=True):
        assert cl.rel_error(a, r) < EXACT_TOL
        np.testing.assert_array_equal(a1, a)


@pytest.mark.parametrize(("stride", "groups"), [(1, 1), (2, 1), (1, 8), (2, 4), (1, 32)])
def test_blocks_on_threads_match_the_windows_route_and_one_thread(stride, groups):
    """A layer large enough for its blocks to run on the BLAS's threads (∂E/∂x as a convolution
    of δ at stride 1, by col2im at stride 2; whole groups and, depthwise, some groups per block)
    equals the windows route (the loops' products) and gives the same bits on one thread; so does
    the backward without the forward's cache, whose blocks lay their own images of x out."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 32, 32, 32)), rng.standard_normal((32, 32 // groups, 3, 3))
    b = rng.standard_normal(32)
    dy = rng.standard_normal(cl.conv2d_forward(x, w, b, stride, 1, groups=groups).shape)
    args = (stride, 1, 1, groups)
    with cl.conv.forced_route("grid", block_bytes=1 << 16):
        got = forward_backward(x, w, b, dy, *args)
        no_cache = cl.conv2d_backward(dy, x, w, *args)
        with threadpool_limits(1):
            one_thread = forward_backward(x, w, b, dy, *args)
    with cl.conv.forced_route("windows"):
        want = forward_backward(x, w, b, dy, *args)
    for a, r, a1 in zip(got, want, one_thread, strict=True):
        assert cl.rel_error(a, r) < EXACT_TOL
        np.testing.assert_array_equal(a1, a)
    for a, a_cached in zip(no_cache, got[1:], strict=True):
        np.testing.assert_array_equal(a, a_cached)


@pytest.mark.parametrize(("stride", "groups"), [(1, 1), (2, 1), (1, 8), (2, 4)])
def test_convolutions_at_once_in_several_threads_give_the_same_bits(stride, groups):
    """Six convolutions at once from three threads (the BLAS held on one thread while any runs)
    equal the same calls made one after another, and the BLAS's thread count comes back."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 32, 32, 32)), rng.standard_normal((32, 32 // groups, 3, 3))
    b = rng.standard_normal(32)
    dy = rng.standard_normal(cl.conv2d_forward(x, w, b, stride, 1, groups=groups).shape)
    before = blas_threads()

    def run(_):
        with cl.conv.forced_route("grid", block_bytes=1 << 16):
            return forward_backward(x, w, b, dy, stride, 1, 1, groups)

    one_by_one = [run(i) for i in range(6)]
    with ThreadPoolExecutor(3) as pool:
        at_once = list(pool.map(run, range(6)))
    for got, want in zip(at_once, one_by_one, strict=True):
        for a, r in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, r)
    assert blas_threads() == before


@pytest.mark.parametrize("user_bufsize", [16, 8192, 1 << 16])
def test_the_callers_numpy_buffer_size_stays_and_changes_no_bit(user_bufsize):
    """The blocks set NumPy's ufunc buffer for themselves (a speed setting): whatever size the
    caller set, a convolution (blocks on threads and in the calling thread) and batch norm give
    the same bits as at NumPy's default, and the caller's size is the same afterwards."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((8, 32, 32, 32)), rng.standard_normal((32, 32, 3, 3))
    b, gamma, beta = rng.standard_normal(32), rng.standard_normal(32), rng.standard_normal(32)
    dy = rng.standard_normal(cl.conv2d_forward(x, w, b, 2, 1).shape)

    def everything():
        with cl.conv.forced_route("grid", block_bytes=1 << 16):
            on_threads = forward_backward(x, w, b, dy, 2, 1)
        alone = forward_backward(x[:1], w, b, dy[:1], 2, 1)
        y, cache = cl.batchnorm2d_forward(x, gamma, beta)
        return [*on_threads, *alone, y, *cl.batchnorm2d_backward(x, cache)]

    default = np.getbufsize()
    want = everything()
    np.setbufsize(user_bufsize)
    try:
        got = everything()
        assert np.getbufsize() == user_bufsize
    finally:
        np.setbufsize(default)
    for a, r in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, r)


def test_convolutions_of_several_shapes_from_other_threads_give_the_bits_of_the_main_threads():
    """Layers of four shapes (a 5 x 5 kernel whose product OpenBLAS sums differently on two threads
    among them; small blocks, so some calls run their blocks in the calling thread), run first in
    this thread and then at once from three others, five times over, give the same bits: a
    call's products run on one BLAS thread whichever thread calls and whatever runs beside it."""
    rng = np.random.default_rng(0)
    shapes = [
        (5, 16, 33, 31, 16, 5, 1, 2),
        (8, 32, 32, 32, 32, 3, 2, 1),
        (2, 3, 9, 9, 4, 3, 1, 1),
        (6, 8, 20, 20, 24, 3, 1, 1),
    ]
    cases = []
    for N, C, H, W, D, k, s, p in shapes:
        x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((D, C, k, k)), rng.standard_normal(D)
        cases.append((x, w, b, rng.standard_normal(cl.conv2d_forward(x, w, b, s, p).shape), s, p))
    before = blas_threads()

    def run(i):
        x, w, b, dy, s, p = cases[i % len(cases)]
        with cl.conv.forced_route("grid", block_bytes=1 << 15):
            return forward_backward(x, w, b, dy, s, p)

    want = [run(i) for i in range(len(cases))]
    with ThreadPoolExecutor(3) as pool:
        at_once = list(pool.map(run, range(5 * len(cases))))
    for i, got in enumerate(at_once):
        for a, r in zip(got, want[i % len(cases)], strict=True):
            np.testing.assert_array_equal(a, r)
    assert blas_threads() == before
