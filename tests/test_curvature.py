"""Tests of cnnlib.curvature: the conv-regression design matrix and Hessian, the step-size bound
2/λmax and the closed-form gradient-descent losses per eigen-direction."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl


def _theta_to_wb(theta, C, k):
    return theta[:-1].reshape(1, C, k, k), theta[-1:]


@pytest.mark.parametrize("C, H, W, k, s, p", [(1, 5, 5, 3, 1, 0), (2, 6, 7, 3, 2, 1), (3, 4, 5, 2, 3, 2)])
def test_design_matrix_reproduces_forward(C, H, W, k, s, p):
    rng = np.random.default_rng(C + H)
    x = rng.standard_normal((2, C, H, W))
    theta = rng.standard_normal(C * k * k + 1)
    w, b = _theta_to_wb(theta, C, k)
    A = cl.curvature.conv_regression_design(x, k, s, p)
    assert A.shape == (
        x.shape[0] * cl.conv_output_size(H, k, s, p) * cl.conv_output_size(W, k, s, p),
        C * k * k + 1,
    )
    np.testing.assert_allclose(A @ theta, cl.conv2d_forward(x, w, b, s, p).ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("C, H, W, k, s, p", [(1, 6, 6, 3, 2, 1), (2, 5, 7, 2, 1, 0)])
def test_hessian_matches_finite_differences_of_the_gradient(C, H, W, k, s, p):
    """Column u of the Hessian = d(gradient)/d(theta_u), the gradient from mse_loss + conv2d_backward."""
    rng = np.random.default_rng(7)
    N = 3
    x = rng.uniform(0, 1, (N, C, H, W))
    t = rng.standard_normal(cl.conv2d_forward(x, np.zeros((1, C, k, k)), None, s, p).shape)

    def grad(theta):
        w, b = _theta_to_wb(theta, C, k)
        _, dy = cl.mse_loss(cl.conv2d_forward(x, w, b, s, p), t)
        _, dw, db = cl.conv2d_backward(dy, x, w, s, p)
        return np.append(dw.ravel(), db)

    theta = rng.standard_normal(C * k * k + 1)
    h = 1e-4
    fd = np.column_stack([(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    assert cl.rel_error(cl.curvature.conv_regression_hessian(x, k, s, p), fd) < 1e-7


def test_largest_stable_lr_separates_convergence_from_divergence():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (4, 1, 6, 6))
    w_true = rng.standard_normal((1, 1, 3, 3))
    t = cl.conv2d_forward(x, w_true, [0.3], 2, 1)
    lr_max = cl.curvature.largest_stable_lr(x, 3, 2, 1)
    lam = np.linalg.eigvalsh(cl.curvature.conv_regression_hessian(x, 3, 2, 1))
    assert lr_max == pytest.approx(2 / lam.max())

    E0 = cl.mse_loss(np.zeros_like(t), t)[0]

    def final_loss(lr, steps=1500):
        w, b = np.zeros((1, 1, 3, 3)), np.zeros(1)
        for _ in range(steps):
            E, dy = cl.mse_loss(cl.conv2d_forward(x, w, b, 2, 1), t)
            if E > 1e6 * E0:
                break  # diverged
            _, dw, db = cl.conv2d_backward(dy, x, w, 2, 1)
            w, b = w - lr * dw, b - lr * db
        return E

    assert final_loss(0.98 * lr_max) < 1e-3 * E0
    assert final_loss(1.02 * lr_max) > 1e6 * E0


def test_gd_direction_losses_equals_explicit_gradient_descent():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((5, 5))
    H = M @ M.T + 0.1 * np.eye(5)
    lam, V = np.linalg.eigh(H)
    theta_star, theta0 = rng.standard_normal(5), rng.standard_normal(5)
    lr = 1.9 / lam.max()
    theta, losses = theta0.copy(), []
    for _ in range(31):
        e = theta - theta_star
        losses.append(0.5 * e @ H @ e)
        theta = theta - lr * H @ e
    parts = cl.curvature.gd_direction_losses(lam, V.T @ (theta0 - theta_star), lr, 30)
    assert parts.shape == (31, 5)
    np.testing.assert_allclose(parts.sum(axis=1), losses, rtol=1e-10)


def test_gd_direction_losses_stops_diverging_runs():
    lam, c0 = np.array([1.0, 10.0]), np.array([1.0, 1e-3])
    parts = cl.curvature.gd_direction_losses(lam, c0, lr=1.1 * 2 / 10.0, steps=400, stop_factor=1e6)
    total = parts.sum(axis=1)
    stop = np.flatnonzero(np.isnan(total))
    assert stop.size and np.all(np.isnan(total[stop[0] :]))
    assert total[stop[0] - 1] > 1e6 * total[0] >= np.nanmax(total[: stop[0] - 1])
    assert total[3] < total[0]  # first descends ...
    converged = cl.curvature.gd_direction_losses(lam, c0, lr=0.9 * 2 / 10.0, steps=400)
    assert not np.isnan(converged).any() and converged[-1].sum() < 1e-6 * converged[0].sum()
