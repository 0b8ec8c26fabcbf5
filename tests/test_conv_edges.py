"""Convolution at the edges: the windows route, inf and NaN, dtypes, empty
batches, kernels as large as the input and strides far beyond it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import example, given
from strategies import CONV_EXAMPLES, EXACT_TOL, FD_TOL, conv_cases, fast_settings

import cnnlib as cl
from cnnlib import reference


def with_examples(test):
    for case in CONV_EXAMPLES:
        test = example(case=case)(test)
    return test


def peak_bytes(f):
    """Peak memory NumPy allocates while f runs (tracemalloc sees NumPy's buffers)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- the windows route (only the real windows) equals the reference ---------------------


@fast_settings(40)
@with_examples
@given(case=conv_cases())
def test_windows_route_matches_reference_and_finite_differences(case):
    """Forced onto the windows route, with blocks as small as one output row, forward and
    backward equal the loops, and dx equals central differences (float64)."""
    x, w, b, dy = case.arrays().values()
    s, p = case.stride, case.padding
    with cl.conv.forced_route("windows", block_bytes=1):
        y = cl.conv2d_forward(x, w, b, s, p)
        dx, dw, db = cl.conv2d_backward(dy, x, w, s, p)
        y_c, cache = cl.conv2d_forward_with_cache(x, w, b, s, p)
        got_cached = cl.conv2d_backward(dy, None, w, s, p, cache=cache)
        num_dx = cl.numerical_gradient(lambda v: np.sum(cl.conv2d_forward(v, w, b, s, p) * dy), x)
    assert cl.rel_error(y, reference.conv2d_forward(x, w, b, s, p)) < EXACT_TOL
    for got, ref in zip((dx, dw, db), reference.conv2d_backward(dy, x, w, s, p), strict=True):
        assert cl.rel_error(got, ref) < EXACT_TOL
    for got, ref in zip(got_cached, (dx, dw, db), strict=True):
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(y_c, y)
    assert cl.rel_error(dx, num_dx) < FD_TOL


def test_the_route_follows_the_waste():
    """The usual shapes take the grid; a kernel as large as the input and a huge stride do not."""

    def wasteful(x_shape, w_shape, s, p):
        return cl.conv.route_of(x_shape, w_shape, s, p).name == "windows"

    assert not wasteful((32, 16, 32, 32), (32, 16, 3, 3), 2, 1)  # bench_conv.py's case C
    assert not wasteful((64, 1, 28, 28), (3, 1, 5, 5), 1, 0)  # bench_conv.py's case A
    assert wasteful((8, 3, 64, 64), (16, 3, 64, 64), 1, 0)
    assert wasteful((1, 1, 5, 5), (1, 1, 5, 5), 100_000, 0)


def test_a_forced_route_covers_the_other_routes_shapes_and_caches():
    """The grid forced onto a wasteful shape (one window per axis) with one-image blocks equals
    the loops; a cache made on one route gives the same gradients under the other."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((3, 2, 6, 5)), rng.standard_normal((4, 2, 6, 5))
    dy = rng.standard_normal((3, 4, 1, 1))
    assert cl.conv.route_of(x.shape, w.shape).name == "windows"
    with cl.conv.forced_route("grid", block_bytes=1):
        route = cl.conv.route_of(x.shape, w.shape)
        assert (route.name, route.block_bytes) == ("grid", 1) and route.columns > 3  # garbage columns too
        y = cl.conv2d_forward(x, w)
        got = cl.conv2d_backward(dy, x, w)
        _, grid_cache = cl.conv2d_forward_with_cache(x, w)
    assert cl.rel_error(y, reference.conv2d_forward(x, w)) < EXACT_TOL
    for a, r in zip(got, reference.conv2d_backward(dy, x, w), strict=True):
        assert cl.rel_error(a, r) < EXACT_TOL
    for a, r in zip(cl.conv2d_backward(dy, None, w, cache=grid_cache), got, strict=True):
        assert cl.rel_error(a, r) < EXACT_TOL


@pytest.mark.parametrize(("name", "block_bytes"), [("fast", None), ("grid", 0), ("windows", 1.5)])
def test_forced_route_refuses_unknown_routes_and_block_sizes(name, block_bytes):
    with pytest.raises(ValueError, match="route must be one of|block_bytes must be"):
        with cl.conv.forced_route(name, block_bytes):
            pass


# --- inf and NaN reach only the entries that depend on them ----------------------


def test_inf_in_an_unread_column_stays_out_of_dw():
    """k = 3, stride 2 on 6 columns: windows read columns 0-4, never column 5. An inf there
    (a garbage column of the grid) leaves dw and dx finite, as in the reference."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 3, 3))
    dy = rng.standard_normal((2, 3, 3, 2))
    x[0, 0, 2, 5] = np.inf
    got = cl.conv2d_backward(dy, x, w, 2)
    assert np.isfinite(got[1]).all()
    for g, r in zip(got, reference.conv2d_backward(dy, x, w, 2), strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # 0·inf, in both versions
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", ["x_read", "x_unread", "w", "dy"])
@pytest.mark.parametrize("stride", [1, 2])
def test_non_finite_values_land_where_the_reference_puts_them(bad, where, stride):
    """An inf or NaN in x (read or never read), w or δ: the result equals the reference's,
    NaN and inf positions included (assert_array_equal treats NaN as equal to NaN)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((3, 2, 3, 3))
    Ho, Wo = cl.conv_output_size(7, 3, stride, 1), cl.conv_output_size(6, 3, stride, 1)
    dy = rng.standard_normal((2, 3, Ho, Wo))
    {"x_read": x[1, 1, 3, 2:3], "x_unread": x[0, 0, 6, 5:6], "w": w[1, 0, 2, 1:2], "dy": dy[0, 2, 1, 1:2]}[
        where
    ][...] = bad
    got = cl.conv2d_backward(dy, x, w, stride, 1)
    ref = reference.conv2d_backward(dy, x, w, stride, 1)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(r))
        np.testing.assert_array_equal(np.isinf(g), np.isinf(r))
        finite = np.isfinite(r)
        np.testing.assert_allclose(g[finite], r[finite], rtol=1e-12, atol=1e-12)
    y, y_ref = cl.conv2d_forward(x, w, None, stride, 1), reference.conv2d_forward(x, w, None, stride, 1)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))


def test_inf_in_w_leaves_unread_columns_of_dx_at_zero():
    """With inf in w, dx of a column no window reads is exactly 0 (it was NaN: 0·inf)."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 1, 5, 6)), rng.standard_normal((1, 1, 3, 3))
    w[0, 0, 1, 1] = np.inf
    dx = cl.conv2d_backward(np.ones((1, 1, 2, 2)), x, w, 2)[0]
    assert (dx[..., 5] == 0).all()


# --- one result dtype for dx, dw and db ------------------------------------------


@pytest.mark.parametrize(
    ("dy_t", "x_t", "w_t"),
    [
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float32),
        (np.float32, np.float32, np.float64),
    ],
)
def test_db_has_the_dtype_of_dx_and_dw(dy_t, x_t, w_t):
    """dx, dw and db all have np.result_type(dy, x, w) (db used to keep dy's dtype)."""
    dy, x, w = np.ones((1, 2, 2, 2), dy_t), np.ones((1, 1, 3, 3), x_t), np.ones((2, 1, 2, 2), w_t)
    expected = np.result_type(dy, x, w)
    for impl in (cl.conv2d_backward, reference.conv2d_backward):
        assert [a.dtype for a in impl(dy, x, w)] == [expected] * 3


# --- empty batches, channels and kernels -----------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape"),
    [((0, 2, 5, 5), (3, 2, 3, 3)), ((2, 0, 5, 5), (3, 0, 3, 3)), ((2, 2, 5, 5), (0, 2, 3, 3))],
)
def test_empty_n_c_or_d_gives_empty_or_bias_results(x_shape, w_shape):
    """N = 0, C = 0 or D = 0: arrays of the right shapes, y = the bias (a sum over no
    channel is 0), as the reference gives."""
    x, w, b = np.zeros(x_shape), np.ones(w_shape), np.arange(w_shape[0], dtype=float)
    y = cl.conv2d_forward(x, w, b, 1, 1)
    np.testing.assert_array_equal(y, reference.conv2d_forward(x, w, b, 1, 1))
    dy = np.ones(y.shape)
    got, ref = cl.conv2d_backward(dy, x, w, 1, 1), reference.conv2d_backward(dy, x, w, 1, 1)
    for g, r in zip(got, ref, strict=True):
        assert g.shape == r.shape
        np.testing.assert_array_equal(g, r)
    y_c, cache = cl.conv2d_forward_with_cache(x, w, b, 1, 1)
    for g, r in zip(cl.conv2d_backward(dy, None, w, 1, 1, cache=cache), ref, strict=True):
        np.testing.assert_array_equal(g, r)


def test_empty_height_with_padding_agrees_with_conv_output_size():
    """H = 0 with padding 1 and a 1-row kernel: conv_output_size(0, 1, 1, 1) = 2 rows of
    output, which the convolution returns too (the bias: it reads only zeros)."""
    assert cl.conv_output_size(0, 1, 1, 1) == 2
    x, w, b = np.zeros((1, 1, 0, 3)), np.ones((1, 1, 1, 3)), np.array([0.5])
    y = cl.conv2d_forward(x, w, b, 1, 1)
    assert y.shape == (1, 1, cl.conv_output_size(0, 1, 1, 1), cl.conv_output_size(3, 3, 1, 1))
    np.testing.assert_array_equal(y, reference.conv2d_forward(x, w, b, 1, 1))
    dx, dw, db = cl.conv2d_backward(np.ones(y.shape), x, w, 1, 1)
    assert dx.shape == (1, 1, 0, 3) and (dw == 0).all() and db.tolist() == [y.size]


# --- items 12 and 13: cost follows the output ---------------------------------------------


def test_kernel_as_large_as_the_input_takes_memory_proportional_to_the_output():
    """N=8, C=3, 64x64 input, 16 kernels of 64x64 (one output position): forward + backward
    stay under 16 MB (the input itself is 0.8 MB; the grid took ~100 MB at this size and
    3.9 GB at 96x96) and equal the reference on one image."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((8, 3, 64, 64)), rng.standard_normal((16, 3, 64, 64))
    dy = rng.standard_normal((8, 16, 1, 1))

    def run():
        cl.conv2d_forward(x, w)
        cl.conv2d_backward(dy, x, w)

    assert peak_bytes(run) < 16 * 2**20
    y = cl.conv2d_forward(x[:1], w)
    np.testing.assert_allclose(y[0, :, 0, 0], np.tensordot(w, x[0], 3), rtol=1e-12)
    dx, dw, _ = cl.conv2d_backward(dy, x, w)
    np.testing.assert_allclose(dw, np.tensordot(dy[:, :, 0, 0], x, (0, 0)), rtol=1e-12)
    np.testing.assert_allclose(dx, np.tensordot(dy[:, :, 0, 0], w, (1, 0)), rtol=1e-12)


def test_a_stride_far_beyond_the_input_allocates_nothing_large():
    """Stride 100,000 on a 5x5 input with a 5x5 kernel: one output, under 1 MB of memory
    (the grid's buffer rows were rounded up to the stride: 6.7 GiB at stride 30,000)."""
    rng = np.random.default_rng(4)
    x, w, dy = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 5, 5)), np.ones((2, 4, 1, 1))
    out = {}

    def run():
        out["y"] = cl.conv2d_forward(x, w, None, 100_000)
        out["grads"] = cl.conv2d_backward(dy, x, w, 100_000)

    assert peak_bytes(run) < 2**20
    np.testing.assert_allclose(out["y"], reference.conv2d_forward(x, w, None, 1), rtol=1e-12)
    for g, r in zip(out["grads"], reference.conv2d_backward(dy, x, w, 1), strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-12)


def test_strides_beyond_the_kernel_on_the_windows_route():
    """Stride 7 with a 3x3 kernel on 20x17 (several windows, unread rows between them) on
    the windows route equals the reference."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 2, 20, 17)), rng.standard_normal((3, 2, 3, 3))
    Ho, Wo = cl.conv_output_size(20, 3, 7, 1), cl.conv_output_size(17, 3, 7, 1)
    dy = rng.standard_normal((2, 3, Ho, Wo))
    with cl.conv.forced_route("windows"):
        got = cl.conv2d_backward(dy, x, w, 7, 1)
    for g, r in zip(got, reference.conv2d_backward(dy, x, w, 7, 1), strict=True):
        assert cl.rel_error(g, r) < EXACT_TOL
