"""Tests of cnnlib.conv's dtypes, its promise never to modify or keep the caller's arrays, and
the forward's cache handed to the backward (one x per cache)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from strategies import CONV_EXAMPLES, conv_cases, fast_settings

import cnnlib as cl
from cnnlib import reference


def with_examples(test):
    """Run a conv property test on the hand-picked edge cases as well as the drawn ones."""
    for case in CONV_EXAMPLES:
        test = example(case=case)(test)
    return test


# --- dtypes and immutability -----------------------------------------------------------------


def _conv_calls(x, w, b, dy):
    return {
        "conv2d_forward": lambda: cl.conv2d_forward(x, w, b, stride=(1, 2), padding=(1, 0)),
        "conv2d_backward": lambda: cl.conv2d_backward(dy, x, w, stride=(1, 2), padding=(1, 0)),
        "reference.conv2d_forward": lambda: reference.conv2d_forward(x, w, b, stride=(1, 2), padding=(1, 0)),
        "reference.conv2d_backward": lambda: reference.conv2d_backward(
            dy, x, w, stride=(1, 2), padding=(1, 0)
        ),
        "reference.conv2d_backward_input": lambda: reference.conv2d_backward_input(
            dy, w, np.shape(x), stride=(1, 2), padding=(1, 0)
        ),
        "pad": lambda: cl.pad(x, ((1, -1), (2, 0))),
        "dilate": lambda: cl.dilate(x, (2, 3)),
        "rot180": lambda: cl.rot180(w),
        "correlate2d": lambda: reference.correlate2d(np.asarray(x)[0, 0], np.asarray(w)[0, 0]),
        "convolve2d": lambda: reference.convolve2d(np.asarray(x)[0, 0], np.asarray(w)[0, 0]),
    }


def _conv_arrays(dtype):
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 4, size=(2, 2, 4, 5)).astype(dtype)
    w = rng.integers(-3, 4, size=(3, 2, 2, 3)).astype(dtype)
    b = rng.integers(-3, 4, size=3).astype(dtype)
    dy = rng.integers(-3, 4, size=(2, 3, 5, 2)).astype(dtype)  # Ho = 4 + 2 - 2 + 1, Wo = (5 - 3)//2 + 1
    return x, w, b, dy


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("name", list(_conv_calls(*_conv_arrays(np.float64))))
def test_float32_stays_float32(name):
    """float32 inputs give float32 outputs."""
    for out in _outputs(_conv_calls(*_conv_arrays(np.float32))[name]()):
        assert out.dtype == np.float32


@pytest.mark.parametrize("name", list(_conv_calls(*_conv_arrays(np.float64))))
def test_int_arrays_and_lists_become_float64(name):
    """Integer arrays and nested lists are accepted, give float64 and the same values as float64."""
    expected = _outputs(_conv_calls(*_conv_arrays(np.float64))[name]())
    as_int = _outputs(_conv_calls(*_conv_arrays(np.int64))[name]())
    as_list = _outputs(_conv_calls(*[a.tolist() for a in _conv_arrays(np.int64)])[name]())
    for e, i, li in zip(expected, as_int, as_list, strict=True):
        assert i.dtype == li.dtype == np.float64
        np.testing.assert_array_equal(i, e)
        np.testing.assert_array_equal(li, e)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(_conv_calls(*_conv_arrays(np.float64))))
def test_inputs_are_not_modified(name, dtype):
    """No function writes into its arguments, and its outputs are not views of them."""
    arrays = _conv_arrays(dtype)
    copies = [a.copy() for a in arrays]
    outs = _outputs(_conv_calls(*arrays)[name]())
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    for out in outs:
        out[...] = 99  # writing into a result must not reach an input
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


# --- the forward's cache, handed to the backward ------------------------------------


@fast_settings(30)
@given(case=conv_cases())
def test_backward_with_the_forwards_cache_equals_backward_without(case):
    """conv2d_forward_with_cache returns conv2d_forward's y, and its cache changes nothing in
    the backward's result (it only skips laying x out again)."""
    x, w, b, dy = case.arrays().values()
    y, cache = cl.conv2d_forward_with_cache(x, w, b, stride=case.stride, padding=case.padding)
    np.testing.assert_array_equal(y, cl.conv2d_forward(x, w, b, stride=case.stride, padding=case.padding))
    with_cache = cl.conv2d_backward(dy, x, w, case.stride, case.padding, cache=cache)
    without = cl.conv2d_backward(dy, x, w, case.stride, case.padding)
    for got, expected in zip(with_cache, without, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_cache_keeps_no_reference_to_x():
    """Changing x after the forward does not change what the cached backward computes."""
    rng = np.random.default_rng(0)
    x, w, dy = (
        rng.standard_normal((2, 2, 5, 5)),
        rng.standard_normal((3, 2, 3, 3)),
        rng.standard_normal((2, 3, 3, 3)),
    )
    expected = cl.conv2d_backward(dy, x, w)[1]
    _, cache = cl.conv2d_forward_with_cache(x, w)
    x[...] = 7.0  # the caller changes x in place between forward and backward
    np.testing.assert_array_equal(cl.conv2d_backward(dy, x, w, cache=cache)[1], expected)


@pytest.mark.parametrize(
    "other",
    [
        dict(stride=2),  # another stride
        dict(padding=1),  # another padding
        dict(x_shape=(2, 2, 6, 5)),  # another input size
    ],
)
def test_a_cache_from_another_convolution_is_a_value_error(other):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    _, cache = cl.conv2d_forward_with_cache(x, w)
    x2 = rng.standard_normal(other.get("x_shape", x.shape))
    s, p = other.get("stride", 1), other.get("padding", 0)
    dy = np.zeros(cl.conv2d_forward(x2, w, stride=s, padding=p).shape)
    with pytest.raises(ValueError, match=r"cache must come from conv2d_forward_with_cache.*stride"):
        cl.conv2d_backward(dy, x2, w, s, p, cache=cache)


@pytest.mark.parametrize("dy_dtype", [np.float32, np.float64])
def test_x_and_cache_must_agree_and_the_cache_x_is_used(dy_dtype):
    """One x per cache: an x of another dtype (or shape) is a ValueError; one that agrees in both
    but whose values changed after the forward does not change the result, whatever dy's dtype."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 5, 5)).astype(np.float32), rng.standard_normal((3, 2, 3, 3))
    dy = rng.standard_normal((2, 3, 3, 3)).astype(dy_dtype)
    expected = cl.conv2d_backward(dy, x, w)
    _, cache = cl.conv2d_forward_with_cache(x, w)
    with pytest.raises(
        ValueError, match="x has dtype float64 but the cache was made from an x of dtype float32"
    ):
        cl.conv2d_backward(dy, x.astype(np.float64), w, cache=cache)
    with pytest.raises(ValueError, match="cache must come from conv2d_forward_with_cache"):
        cl.conv2d_backward(dy[:1], x[:1], w, cache=cache)
    x_other = rng.standard_normal(x.shape).astype(np.float32)
    for got, want in zip(cl.conv2d_backward(dy, x_other, w, cache=cache), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)


def test_a_cache_that_is_not_one_is_a_value_error():
    x, w = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match="got tuple"):
        cl.conv2d_backward(np.ones((1, 1, 3, 3)), x, w, cache=(np.ones(3), None))


@pytest.mark.parametrize(("stride", "groups"), [(1, 1), (2, 1), (1, 2)])
def test_what_earlier_calls_left_in_reused_memory_changes_no_bit(stride, groups):
    """The work buffers are reused between calls, and a block's garbage columns (small images:
    the grid keeps every row) read the first rows of the next block's images, maybe before
    that block lays them out: after calls of the same shapes whose x and δ hold inf and NaN,
    a finite call gives exactly the bits of the first one (with the forward's cache and without)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 4, 16, 16)), rng.standard_normal((4, 4 // groups, 3, 3))
    b = rng.standard_normal(4)
    dy = rng.standard_normal(cl.conv2d_forward(x, w, b, stride, 1, groups=groups).shape)
    args = (stride, 1, 1, groups)

    def calls(x, dy):
        with cl.conv.forced_route("grid", block_bytes=1):  # a block per image
            y, cache = cl.conv2d_forward_with_cache(x, w, b, *args)
            with_cache = cl.conv2d_backward(dy, None, w, *args, cache=cache)
            return (y, *with_cache, *cl.conv2d_backward(dy, x, w, *args))

    first = calls(x, dy)
    bad_x, bad_dy = x.copy(), dy.copy()
    bad_x[:, :, ::3, ::2], bad_x[:, :, 1::3, ::2], bad_dy[:, :, ::2] = np.inf, np.nan, -np.inf
    with np.errstate(invalid="ignore"):
        calls(bad_x, bad_dy)
    for got, want in zip(calls(x, dy), first, strict=True):
        np.testing.assert_array_equal(got, want)


def test_shapes_that_take_turns_in_one_thread_give_the_bits_of_their_first_call():
    """Each thread keeps the views on its work arrays between calls, one set per block layout:
    when a network's layers take turns, each must find its own set (two of the shapes share
    a layout, one takes the ∂E/∂x-by-convolution route), and keep the bits of its first call
    whatever ran between (with and without the cache)."""
    rng = np.random.default_rng(1)
    shapes = [
        ((4, 3, 9, 9), (5, 3, 3, 3), 2, 1),
        ((6, 8, 20, 20), (8, 4, 3, 3), 1, 2),
        ((2, 3, 9, 9), (5, 3, 3, 3), 2, 1),
    ]
    layers = []
    for x_shape, w_shape, stride, groups in shapes:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        b = rng.standard_normal(w_shape[0])
        dy = rng.standard_normal(cl.conv2d_forward(x, w, b, stride, 1, groups=groups).shape)
        layers.append((x, w, b, dy, (stride, 1, 1, groups)))

    def calls(x, w, b, dy, args):
        with cl.conv.forced_route("grid", block_bytes=1):  # a block per image
            y, cache = cl.conv2d_forward_with_cache(x, w, b, *args)
            return (
                y,
                *cl.conv2d_backward(dy, None, w, *args, cache=cache),
                *cl.conv2d_backward(dy, x, w, *args),
            )

    first = [calls(*layer) for layer in layers]
    for turn in [2, 1, 0, 1, 2, 0, 0]:
        for got, want in zip(calls(*layers[turn]), first[turn], strict=True):
            np.testing.assert_array_equal(got, want)
    for (x, w, b, dy, args), results in zip(layers, first, strict=True):  # and they are the right ones
        want = (reference.conv2d_forward(x, w, b, *args), *reference.conv2d_backward(dy, x, w, *args))
        for got, right in zip(results[:4], want, strict=True):
            np.testing.assert_allclose(got, right, rtol=1e-10, atol=1e-10)


def test_a_call_too_large_for_kept_work_arrays_leaves_no_memory_behind():
    """Work arrays over 32 MiB are made fresh for each call and not kept (memory matters more
    than speed there), nor are the views on them: after such a call, the memory NumPy holds
    has not grown by anything of their size (traced with tracemalloc, which NumPy reports to)."""
    import tracemalloc

    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((1, 128, 72, 72)), rng.standard_normal((8, 128, 3, 3))  # 49 MB of columns
    dy = rng.standard_normal((1, 8, 72, 72))
    with cl.conv.forced_route("grid"):
        cl.conv2d_backward(dy, x, w, 1, 1)  # the small work arrays made and kept once
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            cl.conv2d_backward(dy, x, w, 1, 1)
            peak = tracemalloc.get_traced_memory()[1]
            left = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    assert peak - before > 32 << 20  # the columns were made...
    assert left < 16 << 20  # ...and nothing of that size stayed (x-sized results may be: cnnlib._memory)
