"""Tests of cnnlib.gradcheck: the referee itself must be right, and must catch wrong gradients."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl

# --- rel_error ---------------------------------------------------------------------------------


def test_rel_error_definition_by_hand():
    """rel_error = max|a − b| / max(1e-8, max(|a| + |b|)): 0.5 / 4.5 for (1, 2) vs (1, 2.5)."""
    assert cl.rel_error([1.0, 2.0], [1.0, 2.5]) == pytest.approx(0.5 / 4.5, rel=1e-15)
    assert cl.rel_error([[1.0, -2.0]], [[1.0, 2.0]]) == pytest.approx(4 / 4, rel=1e-15)
    assert cl.rel_error([3.0], [3.0]) == 0.0


def test_rel_error_uses_one_global_scale():
    """A near-zero entry of a large gradient does not blow up the error: (1000, 1e-6) vs
    (1000, 2e-6) is 1e-6 / 2000, not the per-element 1/3."""
    assert cl.rel_error([1000.0, 1e-6], [1000.0, 2e-6]) == pytest.approx(1e-6 / 2000, rel=1e-9)


def test_rel_error_floor_for_zero_arrays():
    """Two zero arrays give 0; tiny arrays are divided by the 1e-8 floor, not by their size."""
    assert cl.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert cl.rel_error([0.0], [1e-9]) == pytest.approx(0.1, rel=1e-12)
    assert cl.rel_error(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_rel_error_shape_mismatch():
    """Arrays of different shapes are a ValueError naming both shapes (no broadcasting)."""
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        cl.rel_error(np.zeros(2), np.zeros(3))


# --- numerical_gradient and gradcheck ----------------------------------------------------------------


def test_numerical_gradient_by_hand():
    """f(x) = x0·x1 at (2, 3) has gradient (3, 2); Σ x³ has gradient 3x² (to O(h²))."""
    np.testing.assert_allclose(
        cl.numerical_gradient(lambda v: v[0] * v[1], [2.0, 3.0]), [3.0, 2.0], rtol=1e-9
    )
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])
    np.testing.assert_allclose(cl.numerical_gradient(lambda v: np.sum(v**3), x), 3 * x**2, atol=1e-8)


def test_numerical_gradient_leaves_x_alone():
    """x is not modified, even when f writes into its argument; int and float32 x are
    differentiated in float64."""
    x = np.array([1.0, 2.0])

    def f(v):
        out = np.sum(v**2)
        v[...] = 1e9  # a careless f
        return out

    g = cl.numerical_gradient(f, x)
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-8)
    assert x.tolist() == [1.0, 2.0]
    assert cl.numerical_gradient(lambda v: np.sum(v**2), np.array([1, 2])).dtype == np.float64
    g32 = cl.numerical_gradient(lambda v: np.sum(v.astype(np.float64) ** 2), np.array([1.0, 2.0], np.float32))
    assert g32.dtype == np.float64
    np.testing.assert_allclose(g32, [2.0, 4.0], rtol=1e-8)


def test_gradcheck_accepts_right_and_rejects_wrong():
    """gradcheck is tiny for the true gradient of Σ sin(x) and large for a wrong one."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert cl.gradcheck.gradient_error(lambda v: np.sum(np.sin(v)), x, np.cos(x)) < 1e-8
    assert cl.gradcheck.gradient_error(lambda v: np.sum(np.sin(v)), x, np.sin(x)) > 1e-2
    wrong_one = np.cos(x)
    wrong_one[1, 2] += 1e-3  # a single entry off by 1e-3 is still caught
    assert cl.gradcheck.gradient_error(lambda v: np.sum(np.sin(v)), x, wrong_one) > 1e-5


# --- gradcheck_layer ------------------------------------------------------------------------------------


class ReLUForgetsDerivative(cl.ReLU):
    """A classic bug: backward passes δ through unchanged."""

    def backward(self, dy):
        return np.asarray(dy, dtype=float)


class DenseTransposedGrad(cl.Dense):
    """A classic bug: ∂E/∂w computed as xᵀδ (shape (in, out)) instead of δᵀx."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["w"] = self.grads["w"].T.copy()
        return dx


def test_gradcheck_layer_passes_correct_layers():
    """A correct Dense gives tiny errors under the keys x, w, b."""
    rng = np.random.default_rng(1)
    errors = cl.gradcheck_layer(cl.Dense(3, 3, rng=rng), rng.standard_normal((4, 3)), rng)
    assert set(errors) == {"x", "w", "b"}
    assert max(errors.values()) < 1e-8


def test_gradcheck_layer_catches_bugs():
    """Each deliberately broken backward gives a large error exactly where it is broken."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    errors = cl.gradcheck_layer(ReLUForgetsDerivative(), x, rng)
    assert errors["x"] > 1e-2
    errors = cl.gradcheck_layer(DenseTransposedGrad(3, 3, rng=rng), x, rng)
    assert errors["w"] > 1e-2
    assert errors["x"] < 1e-8 and errors["b"] < 1e-8


def test_gradcheck_layer_on_sequential_names_each_parameter():
    """On a Sequential the keys are "<layer index>.<param>", and the parameters are restored."""
    rng = np.random.default_rng(3)
    model = cl.Sequential([cl.Dense(3, 4, rng=rng), cl.Tanh(), cl.Dense(4, 2, rng=rng)])
    before = [p.copy() for layer in model.layers for p in layer.params.values()]
    errors = cl.gradcheck_layer(model, rng.standard_normal((5, 3)), rng)
    assert set(errors) == {"x", "0.w", "0.b", "2.w", "2.b"}
    assert max(errors.values()) < 1e-7
    after = [p for layer in model.layers for p in layer.params.values()]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("err", "text"),
    [
        (3.2e-11, "rel. error < 1e-10, well below 1e-07"),
        (1e-10, "rel. error < 1e-09, well below 1e-07"),
        (2e-8, "rel. error < 1e-07, below 1e-07"),
        (0.0, "rel. error < 1e-12, well below 1e-07"),
        (4e-16, "rel. error < 1e-12, well below 1e-07"),
        (0.03, "rel. error 3e-02, ABOVE 1e-07: the gradient is wrong"),
    ],
)
def test_error_bound_reads_as_a_decade_above_and_a_verdict(err, text):
    assert cl.gradcheck.error_bound(err) == text


# --- numerical_gradient of a non-scalar f ---------------------------------------------------


def test_numerical_gradient_of_a_non_scalar_f_names_the_shape():
    with pytest.raises(ValueError, match=r"f must return a scalar .*got an array of shape \(3,\)"):
        cl.numerical_gradient(lambda v: 2 * v, np.ones(3))
    assert cl.numerical_gradient(lambda v: np.sum(v * v), np.ones(2)).tolist() == pytest.approx([2.0, 2.0])
