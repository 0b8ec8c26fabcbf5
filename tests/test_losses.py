"""Tests of cnnlib.losses: the scaling conventions by hand, gradients by finite differences."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given
from strategies import FD_TOL, SEEDS, fast_settings

import cnnlib as cl

# --- mse_loss ---------------------------------------------------------------------------------


def test_mse_by_hand():
    """E = 1/(2N) Σ (y − t)², dy = (y − t)/N: diff [[1, 0], [0, 2]], N = 2 gives E = 5/4."""
    loss, dy = cl.mse_loss([[1.0, 2.0], [3.0, 4.0]], [[0.0, 2.0], [3.0, 2.0]])
    assert loss == 1.25
    assert dy.tolist() == [[0.5, 0.0], [0.0, 1.0]]


def test_mse_single_sample_is_half_squared_error():
    """With N = 1 the loss is the blogs' ½Σ(y − t)² and the gradient y − t."""
    loss, dy = cl.mse_loss(np.array([[[3.0, -1.0]]]), np.array([[[1.0, 1.0]]]))
    assert loss == 0.5 * (4 + 4)
    assert dy.tolist() == [[[2.0, -2.0]]]


@fast_settings(30)
@given(seed=SEEDS, shape=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_mse_gradient_matches_finite_differences(seed, shape):
    """dy equals the central differences of E in y, for any shape (N, ...)."""
    rng = np.random.default_rng(seed)
    y, t = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, dy = cl.mse_loss(y, t)
    assert cl.gradcheck.gradient_error(lambda v: cl.mse_loss(v, t)[0], y, dy) < FD_TOL
    assert isinstance(loss, float)
    np.testing.assert_allclose(loss, np.sum((y - t) ** 2) / (2 * shape[0]), rtol=1e-12)


def test_mse_shape_mismatch():
    """y and t of different shapes: both shapes are named."""
    with pytest.raises(ValueError, match=r"y.shape=\(2, 3\), t.shape=\(3, 2\)"):
        cl.mse_loss(np.zeros((2, 3)), np.zeros((3, 2)))


def test_mse_scalar_has_no_batch_axis():
    """A scalar prediction is rejected: the loss averages over a batch axis."""
    with pytest.raises(ValueError, match=r"batch axis.*scalar"):
        cl.mse_loss(1.0, 2.0)


# --- softmax and softmax_cross_entropy ------------------------------------------------------------


def test_softmax_cross_entropy_uniform_by_hand():
    """Zero logits over K = 4 classes: p = 1/4, E = log 4, dlogits = (1/4 − onehot)/N."""
    loss, d = cl.softmax_cross_entropy(np.zeros((2, 4)), [1, 3])
    np.testing.assert_allclose(loss, np.log(4.0), rtol=1e-15)
    expected = np.full((2, 4), 0.25)
    expected[0, 1] -= 1
    expected[1, 3] -= 1
    np.testing.assert_allclose(d, expected / 2, rtol=1e-15)


def test_softmax_cross_entropy_two_classes_by_hand():
    """Logits (0, ln 3): p = (1/4, 3/4); label 1 gives E = −ln(3/4) and dlogits = (1/4, −1/4)."""
    loss, d = cl.softmax_cross_entropy(np.array([[0.0, np.log(3.0)]]), np.array([1]))
    np.testing.assert_allclose(loss, -np.log(0.75), rtol=1e-14)
    np.testing.assert_allclose(d, [[0.25, -0.25]], rtol=1e-14)
    np.testing.assert_allclose(cl.softmax(np.array([[0.0, np.log(3.0)]])), [[0.25, 0.75]], rtol=1e-15)


@fast_settings(40)
@given(seed=SEEDS, N=st.integers(1, 4), K=st.integers(2, 5))
# a confident prediction (loss 5e-5): log(1 + rest) lost the digits finite differences need
@example(seed=13, N=1, K=2)
def test_softmax_cross_entropy_matches_finite_differences(seed, N, K):
    """dlogits equals the central differences of E; E equals −mean log p[label] computed directly;
    each row of dlogits sums to 0 (softmax is invariant to adding a constant to a row)."""
    rng = np.random.default_rng(seed)
    logits = 2 * rng.standard_normal((N, K))
    labels = rng.integers(0, K, size=N)
    loss, d = cl.softmax_cross_entropy(logits, labels)
    assert cl.gradcheck.gradient_error(lambda v: cl.softmax_cross_entropy(v, labels)[0], logits, d) < FD_TOL
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(N), labels])), rtol=1e-12)
    np.testing.assert_allclose(d.sum(axis=1), 0, atol=1e-15)
    shifted = cl.softmax_cross_entropy(logits + rng.standard_normal((N, 1)) * 10, labels)
    np.testing.assert_allclose(shifted[0], loss, rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_large_logits():
    """Logits of 1000 do not overflow: the wrong class at 1000 above the right one costs 1000."""
    loss, d = cl.softmax_cross_entropy(np.array([[1000.0, 0.0]]), [1])
    np.testing.assert_allclose(loss, 1000.0, rtol=1e-12)
    np.testing.assert_allclose(d, [[1.0, -1.0]], rtol=1e-12)
    assert np.all(np.isfinite(cl.softmax(np.array([[1000.0, -1000.0]]))))


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0]])
def test_labels_out_of_range(labels):
    """A label outside 0..K−1 names K and the offending minimum or maximum."""
    with pytest.raises(
        ValueError, match=rf"0\.\.2 \(K=3 classes\), got min {min(labels)}, max {max(labels)}"
    ):
        cl.softmax_cross_entropy(np.zeros((2, 3)), labels)


@pytest.mark.parametrize("labels", [np.array([0.0, 1.5]), [0, 1.0], np.array(["0", "1"])])
def test_labels_not_integers(labels):
    """Float (even 1.0) or string labels are a TypeError naming the dtype."""
    with pytest.raises(TypeError, match=r"labels must be integer class indices, got dtype"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), labels)


def test_labels_wrong_shape():
    """Labels of shape (2, 1) instead of (2,) (e.g. one-hot or column vectors) name both shapes."""
    with pytest.raises(ValueError, match=r"labels must have shape \(N,\) = \(2,\), got \(2, 1\)"):
        cl.softmax_cross_entropy(np.zeros((2, 3)), np.zeros((2, 1), dtype=int))


def test_logits_wrong_ndim():
    """Logits must be (N, K): a 1-D vector is named."""
    with pytest.raises(ValueError, match=r"logits must be 2-D .*\(N, K\), got shape \(3,\)"):
        cl.softmax_cross_entropy(np.zeros(3), [0])


# --- dtypes and immutability ---------------------------------------------------------------------

CALLS = {
    "mse_loss": lambda a, b: cl.mse_loss(a, b),
    "softmax_cross_entropy": lambda a, b: cl.softmax_cross_entropy(a, [2, 0]),
    "softmax": lambda a, b: (None, cl.softmax(a)),
}
BASE_A = np.array([[1, -2, 0], [3, 1, 1]])
BASE_B = np.array([[0, 1, 2], [-1, 0, 4]])


@pytest.mark.parametrize("name", CALLS)
def test_dtypes(name):
    """float32 in gives a float32 gradient; ints and lists give float64 with the same values."""
    _, g32 = CALLS[name](BASE_A.astype(np.float32), BASE_B.astype(np.float32))
    assert g32.dtype == np.float32
    loss64, g64 = CALLS[name](BASE_A.astype(np.float64), BASE_B.astype(np.float64))
    for a, b in ((BASE_A, BASE_B), (BASE_A.tolist(), BASE_B.tolist())):
        loss, g = CALLS[name](a, b)
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g, g64)
        assert loss == loss64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", CALLS)
def test_inputs_are_not_modified(name, dtype):
    """The losses never write into the predictions, targets or labels."""
    a, b = BASE_A.astype(dtype), BASE_B.astype(dtype)
    labels = np.array([2, 0])
    _, g = CALLS[name](a, b)
    g[...] = 99
    cl.softmax_cross_entropy(a, labels)
    np.testing.assert_array_equal(a, BASE_A.astype(dtype))
    np.testing.assert_array_equal(b, BASE_B.astype(dtype))
    assert labels.tolist() == [2, 0]


# --- a loss over zero samples ----------------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_losses_of_an_empty_batch_are_a_value_error():
    """mean over zero samples: a ValueError (it was nan with a RuntimeWarning)."""
    with pytest.raises(ValueError, match=r"at least one sample, got an empty batch of shape \(0, 3\)"):
        cl.mse_loss(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"at least one sample, got an empty batch of shape \(0, 3\)"):
        cl.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
