"""Tests of cnnlib.norm (batch normalisation, training and eval mode) against cnnlib.reference's
loops and central finite differences, over hypothesis shapes, plus dtypes, bad input and edges."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given
from strategies import EXACT_TOL, FD_TOL, SEEDS, fast_settings

import cnnlib as cl
from cnnlib import reference
from cnnlib.gradcheck import numerical_gradient


@st.composite
def bn_cases(draw, min_values=2):
    """(N, C, H, W) with N·H·W >= min_values, a seed, and an offset/scale for x."""
    N, H, W = draw(st.integers(0, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if N * H * W < min_values:
        N = max(N, 1)
        H = max(H, min_values)
    return N, draw(st.integers(1, 4)), H, W, draw(SEEDS)


def bn_arrays(case, dtype=np.float64):
    """x with channel means and spreads that differ (variances kept away from 0), gamma, beta, dy."""
    N, C, H, W, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)) * rng.uniform(0.5, 3, (1, C, 1, 1)) + rng.uniform(
        -2, 2, (1, C, 1, 1)
    )
    if N * H * W >= 2:  # two distinct values per channel at least: σ² well away from 0
        flat = np.moveaxis(x, 1, 0).reshape(C, -1)
        flat[:, 0] -= 1.0
        flat[:, 1] += 1.0
        x = np.moveaxis(flat.reshape(C, N, H, W), 0, 1).copy()
    gamma, beta = rng.uniform(0.5, 2, C) * rng.choice([-1, 1], C), rng.standard_normal(C)
    dy = rng.standard_normal(x.shape)
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dy))


def dx_error(got, want, gamma, cache, dy):
    """rel_error of a dx, its scale at least that of the terms it is a sum of, |γ/σ · δ|.

    With M = 2 (or a channel nearly constant) x̂ is ±1 whatever x, so ∂E/∂x is O(ε) and
    is all cancellation: measured against itself, any rounding would look large.
    """
    terms = np.max(np.abs(gamma * cache.inv_std)) * np.max(np.abs(dy), initial=0)
    return float(
        np.max(np.abs(got - want), initial=0)
        / max(1e-8, np.max(np.abs(got) + np.abs(want), initial=0), terms)
    )


def running_stats(C, seed):
    rng = np.random.default_rng(seed + 1)
    return rng.standard_normal(C), rng.uniform(0.2, 3, C)


# --- against the loops and finite differences --------------------------------------------------


@fast_settings(40)
@given(case=bn_cases())
def test_training_mode_matches_the_loops_and_finite_differences(case):
    x, gamma, beta, dy = bn_arrays(case)
    y, cache = cl.batchnorm2d_forward(x, gamma, beta)
    y_ref, cache_ref = reference.batchnorm2d_forward(x, gamma, beta)
    assert cl.rel_error(y, y_ref) < EXACT_TOL
    dx, dgamma, dbeta = cl.batchnorm2d_backward(dy, cache)
    dx_ref, dgamma_ref, dbeta_ref = reference.batchnorm2d_backward(dy, cache_ref)
    assert dx_error(dx, dx_ref, gamma, cache, dy) < EXACT_TOL
    assert cl.rel_error(dgamma, dgamma_ref) < EXACT_TOL and cl.rel_error(dbeta, dbeta_ref) < EXACT_TOL

    def E(x=x, gamma=gamma, beta=beta):
        return np.sum(cl.batchnorm2d_forward(x, gamma, beta)[0] * dy)

    assert dx_error(dx, numerical_gradient(lambda v: E(x=v), x), gamma, cache, dy) < FD_TOL
    assert cl.rel_error(dgamma, numerical_gradient(lambda v: E(gamma=v), gamma)) < FD_TOL
    assert cl.rel_error(dbeta, numerical_gradient(lambda v: E(beta=v), beta)) < FD_TOL


@fast_settings(30)
@given(case=bn_cases(min_values=0))
def test_eval_mode_matches_the_loops_and_finite_differences(case):
    """Given statistics (N = 0 included): an affine map per channel, and its backward."""
    x, gamma, beta, dy = bn_arrays(case)
    mean, var = running_stats(x.shape[1], case[-1])
    y, cache = cl.batchnorm2d_forward(x, gamma, beta, mean=mean, var=var)
    y_ref, cache_ref = reference.batchnorm2d_forward(x, gamma, beta, mean=mean, var=var)
    assert y.shape == x.shape and cl.rel_error(y, y_ref) < EXACT_TOL
    scale = gamma / np.sqrt(var + 1e-5)
    assert cl.rel_error(y, x * scale[:, None, None] + (beta - mean * scale)[:, None, None]) < EXACT_TOL
    grads = cl.batchnorm2d_backward(dy, cache)
    for got, want in zip(grads, reference.batchnorm2d_backward(dy, cache_ref), strict=True):
        assert cl.rel_error(got, want) < EXACT_TOL
    np.testing.assert_allclose(grads[0], dy * scale[:, None, None], rtol=1e-14, atol=0)

    def E(x=x, gamma=gamma, beta=beta):
        return np.sum(cl.batchnorm2d_forward(x, gamma, beta, mean=mean, var=var)[0] * dy)

    assert cl.rel_error(grads[1], numerical_gradient(lambda v: E(gamma=v), gamma)) < FD_TOL
    assert cl.rel_error(grads[2], numerical_gradient(lambda v: E(beta=v), beta)) < FD_TOL
    if x.size:
        assert cl.rel_error(grads[0], numerical_gradient(lambda v: E(x=v), x)) < FD_TOL


@fast_settings(25)
@given(case=bn_cases())
def test_float32_stays_float32_and_agrees_with_float64(case):
    x, gamma, beta, dy = bn_arrays(case)
    y64, cache64 = cl.batchnorm2d_forward(x, gamma, beta)
    grads64 = cl.batchnorm2d_backward(dy, cache64)
    x32, g32, b32, dy32 = (a.astype(np.float32) for a in (x, gamma, beta, dy))
    y32, cache32 = cl.batchnorm2d_forward(x32, g32, b32)
    grads32 = cl.batchnorm2d_backward(dy32, cache32)
    assert y32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads32)
    assert cl.rel_error(y32, y64) < 1e-5
    assert dx_error(grads32[0], grads64[0], gamma, cache64, dy) < 1e-5
    # dgamma = Σ δ x̂ and dbeta = Σ δ may cancel too: measured against Σ|δ| · max|x̂|
    terms = np.abs(dy).sum(axis=(0, 2, 3)) * max(1.0, np.abs(cache64.x_hat).max())
    for g32, g64 in zip(grads32[1:], grads64[1:], strict=True):
        assert np.all(np.abs(g32 - g64) <= 1e-5 * terms)
    # mixed: float64 parameters make a float64 result
    assert cl.batchnorm2d_forward(x32, gamma, beta)[0].dtype == np.float64


@fast_settings(30)
@given(case=bn_cases(), K=st.integers(1, 3))
def test_the_conv_bias_before_batch_norm_gets_zero_gradient(case, K):
    """y = BN(conv(x) + b): b shifts a channel, the batch mean takes the shift back, so ∂E/∂b = 0
    in the maths; in floating point it is a sum of M terms that cancel: at most 1e-12 of their scale."""
    N, C, H, W, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 2, H + K - 1, W + K - 1))
    conv = cl.Conv2D(2, C, K, rng=rng)
    bn = cl.BatchNorm2D(C)
    z = conv.forward(x)
    if np.any(z.var(axis=(0, 2, 3)) < 1e-3):
        return  # a channel with (almost) no spread: outside the domain of this test
    bn.params["gamma"][:] = rng.uniform(0.5, 2, C)
    bn.forward(z)
    dy = rng.standard_normal(z.shape)
    conv.backward(bn.backward(dy))
    # the scale of the sum: its terms are ~ γ/σ · δ, which cancel (M = 2: dz is O(ε) itself)
    scale = np.abs(bn.params["gamma"] / np.sqrt(z.var(axis=(0, 2, 3)) + bn.eps)) * np.abs(dy).sum(
        axis=(0, 2, 3)
    )
    assert np.all(np.abs(conv.grads["b"]) <= 1e-12 * scale)


@pytest.mark.parametrize("training", [True, False])
def test_large_inputs_in_blocks_of_channels_match_the_formulas_on_any_number_of_threads(training):
    """An input large enough to be split into blocks of channels (normalised side by side on the
    BLAS's threads) gives the formulas' result, written out in NumPy over the whole array, and the
    same bits on one BLAS thread."""
    x, gamma, beta, dy = bn_arrays((8, 7, 150, 150, 3))  # 1.26 M values: four blocks of channels
    mean, var = running_stats(7, 3)
    stats = {} if training else {"mean": mean, "var": var}

    def forward_backward():
        y, cache = cl.batchnorm2d_forward(x, gamma, beta, **stats)
        return (y, *cl.batchnorm2d_backward(dy, cache)), cache

    got, cache = forward_backward()
    threadpoolctl = pytest.importorskip("threadpoolctl")  # optional: the channels' blocks on threads
    with threadpoolctl.threadpool_limits(1):
        one_thread, _ = forward_backward()
    axes, ch = (0, 2, 3), (lambda a: a.reshape(1, -1, 1, 1))
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    x_hat = (x - ch(mean)) / ch(np.sqrt(var + 1e-5))
    dgamma, dbeta = (dy * x_hat).sum(axis=axes), dy.sum(axis=axes)
    dx = ch(gamma / np.sqrt(var + 1e-5)) * (dy - training * (ch(dbeta) + x_hat * ch(dgamma)) / (x.size / 7))
    for a, want in zip(got, (ch(gamma) * x_hat + ch(beta), dx, dgamma, dbeta), strict=True):
        assert cl.rel_error(a, want) < EXACT_TOL
    for a, a1 in zip(got, one_thread, strict=True):
        np.testing.assert_array_equal(a1, a)


# --- edges and bad input ---------------------------------------------------------------------------


def test_inputs_are_never_modified_nor_kept():
    x, gamma, beta, dy = bn_arrays((3, 2, 2, 2, 7))
    copies = [a.copy() for a in (x, gamma, beta, dy)]
    y, cache = cl.batchnorm2d_forward(x, gamma, beta)
    x[...] += 5
    gamma[...] *= 3
    dx, dgamma, dbeta = cl.batchnorm2d_backward(dy, cache)
    x[...], gamma[...] = copies[0], copies[1]
    y2, cache2 = cl.batchnorm2d_forward(x, gamma, beta)
    for got, want in zip((dx, dgamma, dbeta), cl.batchnorm2d_backward(dy, cache2), strict=True):
        np.testing.assert_array_equal(got, want)
    for a, c in zip((x, gamma, beta, dy), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_empty_batch_in_training_mode_is_an_error_and_flows_in_eval_mode():
    x = np.zeros((0, 3, 4, 4))
    with pytest.raises(ValueError, match=r"N·H·W >= 2.*got N·H·W = 0"):
        cl.batchnorm2d_forward(x, np.ones(3), np.zeros(3))
    y, cache = cl.batchnorm2d_forward(x, np.ones(3), np.zeros(3), mean=np.zeros(3), var=np.ones(3))
    dx, dgamma, dbeta = cl.batchnorm2d_backward(np.zeros_like(y), cache)
    assert y.shape == dx.shape == x.shape
    np.testing.assert_array_equal(dgamma, np.zeros(3))
    np.testing.assert_array_equal(dbeta, np.zeros(3))


def test_a_constant_channel_gives_numbers_not_nan():
    """σ² = 0: x̂ = 0 and y = β (eps keeps the division finite)."""
    x = np.full((2, 1, 2, 2), 3.0)
    y, cache = cl.batchnorm2d_forward(x, [2.0], [0.5])
    np.testing.assert_array_equal(y, np.full(x.shape, 0.5))
    assert all(np.all(np.isfinite(g)) for g in cl.batchnorm2d_backward(np.ones_like(x), cache))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"x": np.zeros((4, 2, 3))}, ValueError, r"x must be 4-D with shape \(N, C, H, W\), got 3-D"),
        ({"gamma": np.ones(3)}, ValueError, r"gamma must have shape \(C,\) = \(2,\).*got shape \(3,\)"),
        ({"beta": np.ones((2, 1))}, ValueError, r"beta must have shape \(C,\) = \(2,\).*got shape \(2, 1\)"),
        ({"eps": 0}, ValueError, r"eps must be a positive number, got 0"),
        ({"eps": -1e-5}, ValueError, r"eps must be a positive number"),
        ({"x": np.zeros((1, 2, 1, 1))}, ValueError, r"N·H·W >= 2.*got N·H·W = 1"),
        ({"mean": np.zeros(2)}, ValueError, r"give both mean and var"),
        ({"mean": np.zeros(3), "var": np.ones(2)}, ValueError, r"mean must have shape \(C,\) = \(2,\)"),
        ({"mean": np.zeros(2), "var": -np.ones(2)}, ValueError, r"var must be >= 0"),
        ({"x": np.zeros((2, 2, 2, 2), dtype=complex)}, TypeError, r"x must hold real numbers"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error, message):
    args = {"x": np.arange(16.0).reshape(2, 2, 2, 2), "gamma": np.ones(2), "beta": np.zeros(2)} | kwargs
    with pytest.raises(error, match=message):
        cl.batchnorm2d_forward(**args)
    with pytest.raises(error, match=message):
        reference.batchnorm2d_forward(**args)


def test_backward_errors():
    y, cache = cl.batchnorm2d_forward(np.arange(16.0).reshape(2, 2, 2, 2), np.ones(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output \(2, 2, 2, 2\)"):
        cl.batchnorm2d_backward(np.zeros((2, 2, 2)), cache)
    with pytest.raises(TypeError, match=r"cache must be the BatchNormCache"):
        cl.batchnorm2d_backward(np.zeros_like(y), (1, 2, 3))


def test_results_never_share_memory_with_a_live_array():
    """Large results are made in reused memory (cnnlib keeps a few buffers to spare the page faults
    of fresh ones): never in memory that a result still alive, or a view of one, uses."""
    x, gamma, beta, dy = bn_arrays((16, 8, 96, 96, 11))  # 9.4 MB per array in float64
    y1, cache1 = cl.batchnorm2d_forward(x, gamma, beta)
    dx1 = cl.batchnorm2d_backward(dy, cache1)[0]
    part_of_y1 = y1[3:, 2]  # only a view of y1 is kept alive
    want = part_of_y1.copy()
    del y1
    conv_y = cl.conv2d_forward(x, np.ones((8, 8, 3, 3)), None, 1, 1)
    for _ in range(3):  # results made and dropped: their memory is free for the next ones
        y2, cache2 = cl.batchnorm2d_forward(x + 1, gamma, beta)
        dx2 = cl.batchnorm2d_backward(dy, cache2)[0]
        live = [part_of_y1, cache1.x_hat, dx1, conv_y, y2, cache2.x_hat, dx2]
        for i, a in enumerate(live):
            for b in live[i + 1 :]:
                assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(part_of_y1, want)
