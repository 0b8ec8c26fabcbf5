"""Tests of the modern block's layers (BatchNorm2D, GlobalAvgPool2D, Residual) and of nesting:
one walker for SGD, fit, gradcheck_layer and train/eval; the layer-reuse rule inside blocks."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import EXACT_TOL, FD_TOL, SEEDS, fast_settings
from hypothesis import given

import cnnlib as cl
from cnnlib import reference


def spread_input(rng, shape):
    """x whose channels have different means and spreads, each well away from constant."""
    C = shape[1]
    return rng.standard_normal(shape) * rng.uniform(0.5, 2, (1, C, 1, 1)) + rng.uniform(-1, 1, (1, C, 1, 1))


def assert_gradcheck(model, x, seed, keys):
    errors = cl.gradcheck_layer(model, x, np.random.default_rng(seed))
    assert set(errors) == {"x"} | set(keys)
    for key, err in errors.items():
        assert err < FD_TOL, f"{key}: rel_error {err:.2e}"


def block(C, rng, dtype=np.float64):
    """conv3x3-BN-ReLU-conv3x3-BN plus identity, then ReLU (the benchmark's block)."""
    return cl.Sequential([
        cl.Residual(
            cl.Conv2D(C, C, 3, padding=1, rng=rng, dtype=dtype), cl.BatchNorm2D(C, dtype=dtype), cl.ReLU(),
            cl.Conv2D(C, C, 3, padding=1, rng=rng, dtype=dtype), cl.BatchNorm2D(C, dtype=dtype),
        ),
        cl.ReLU(),
    ])  # fmt: skip


# --- BatchNorm2D -------------------------------------------------------------------------------------


@fast_settings(20)
@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(2, 4), W=st.integers(2, 4), seed=SEEDS)
def test_batchnorm_layer_is_the_function_and_passes_finite_differences(N, C, H, W, seed):
    """(N·H·W >= 4 here: with 2 values per channel x̂ = ±1 whatever x and ∂E/∂x is O(ε), all
    cancellation; tests/test_norm.py measures that case against the scale of its terms.)"""
    rng = np.random.default_rng(seed)
    layer = cl.BatchNorm2D(C)
    layer.params["gamma"][:] = rng.uniform(0.5, 2, C)
    layer.params["beta"][:] = rng.standard_normal(C)
    x = spread_input(rng, (N, C, H, W))
    y_ref, _ = reference.batchnorm2d_forward(x, layer.params["gamma"], layer.params["beta"])
    assert cl.rel_error(layer.forward(x), y_ref) < EXACT_TOL
    assert_gradcheck(layer, x, seed, {"gamma", "beta"})
    layer.eval()
    assert_gradcheck(layer, x, seed, {"gamma", "beta"})


def test_running_statistics_move_as_pytorch_moves_them():
    """running ← (1 − m) running + m · batch statistic, the variance unbiased (M/(M − 1));
    eval mode then normalises with them; gradcheck_layer leaves them as they were."""
    rng = np.random.default_rng(0)
    layer = cl.BatchNorm2D(3, momentum=0.25)
    np.testing.assert_array_equal(layer.running_mean, np.zeros(3))
    np.testing.assert_array_equal(layer.running_var, np.ones(3))
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = spread_input(rng, (4, 3, 2, 5))
        layer.forward(x)
        mean = 0.75 * mean + 0.25 * x.mean(axis=(0, 2, 3))
        var = 0.75 * var + 0.25 * x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-14)
    layer.eval()
    x = spread_input(rng, (2, 3, 2, 2))
    want = (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(layer.forward(x), want, rtol=1e-13)
    mean, var = layer.running_mean.copy(), layer.running_var.copy()
    np.testing.assert_array_equal(layer.running_mean, mean)  # eval moves nothing
    layer.train()
    cl.gradcheck_layer(layer, x, 1)
    np.testing.assert_array_equal(layer.running_mean, mean)
    np.testing.assert_array_equal(layer.running_var, var)


@pytest.mark.parametrize("momentum", [0.0, 1.0])
def test_momentum_at_its_ends(momentum):
    x = spread_input(np.random.default_rng(1), (3, 2, 2, 2))
    layer = cl.BatchNorm2D(2, momentum=momentum)
    layer.forward(x)
    want = np.zeros(2) if momentum == 0 else x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(layer.running_mean, want, rtol=1e-15)


def test_batchnorm_layer_dtypes_and_empty_batches():
    layer = cl.BatchNorm2D(2, dtype=np.float32)
    assert layer.params["gamma"].dtype == layer.running_var.dtype == np.float32
    x = spread_input(np.random.default_rng(2), (3, 2, 2, 2)).astype(np.float32)
    y = layer.forward(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.grads["gamma"].dtype == np.float32
    with pytest.raises(ValueError, match=r"N·H·W >= 2"):
        layer.forward(np.zeros((0, 2, 2, 2), dtype=np.float32))
    layer.eval()
    y = layer.forward(np.zeros((0, 2, 2, 2)))
    assert y.shape == (0, 2, 2, 2) and layer.backward(y).shape == (0, 2, 2, 2)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((0,), ValueError, r"num_channels must be a positive int, got 0"),
        ((2.0,), ValueError, r"num_channels must be a positive int"),
        ((2, 0.0), ValueError, r"eps must be a positive number, got 0.0"),
        ((2, 1e-5, 1.5), ValueError, r"momentum must be a number in \[0, 1\], got 1.5"),
        ((2, 1e-5, -0.1), ValueError, r"momentum must be a number in \[0, 1\]"),
        ((2, 1e-5, 0.1, np.int64), TypeError, r"dtype must be np.float32 or np.float64"),
    ],
)
def test_batchnorm_layer_bad_construction(args, error, message):
    with pytest.raises(error, match=message):
        cl.BatchNorm2D(*args)


def test_batchnorm_layer_bad_input():
    layer = cl.BatchNorm2D(2)
    with pytest.raises(ValueError, match=r"BatchNorm2D expects num_channels=2, got an input with C=3"):
        layer.forward(np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        layer.forward(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"N·H·W >= 2.*got N·H·W = 1"):
        layer.forward(np.zeros((1, 2, 1, 1)))
    with pytest.raises(RuntimeError, match=r"backward called before forward"):
        cl.BatchNorm2D(2).backward(np.zeros((2, 2, 2, 2)))


# --- GlobalAvgPool2D -------------------------------------------------------------------------------


@fast_settings(20)
@given(N=st.integers(0, 3), C=st.integers(1, 3), H=st.integers(1, 4), W=st.integers(1, 4), seed=SEEDS)
def test_global_avg_pool(N, C, H, W, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    layer = cl.GlobalAvgPool2D()
    y = layer.forward(x)
    # a global pool is the average pool whose window is the whole image
    assert y.shape == (N, C)
    np.testing.assert_allclose(
        y, reference.avgpool2d_forward(x, (H, W)).reshape(N, C), rtol=1e-13, atol=1e-15
    )
    dy = rng.standard_normal((N, C))
    dx_ref = reference.avgpool2d_backward(dy.reshape(N, C, 1, 1), x, (H, W))
    np.testing.assert_allclose(layer.backward(dy), dx_ref, rtol=1e-13, atol=0)
    if N:
        assert_gradcheck(layer, x, seed, set())


def test_global_avg_pool_dtypes_and_errors():
    layer = cl.GlobalAvgPool2D()
    y = layer.forward(np.ones((2, 3, 2, 2), dtype=np.float32))
    assert y.dtype == np.float32 and layer.backward(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output \(2, 3\)"):
        layer.backward(np.ones((2, 3, 1, 1)))
    with pytest.raises(ValueError, match=r"x must be 4-D"):
        layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"H, W >= 1"):
        layer.forward(np.ones((2, 3, 0, 4)))


# --- Residual and nesting --------------------------------------------------------------------------


@fast_settings(6)
@given(N=st.integers(1, 2), C=st.integers(1, 2), H=st.integers(3, 4), seed=SEEDS)
def test_residual_block_passes_finite_differences_with_named_keys(N, C, H, seed):
    """A Residual holding a Sequential holding a BatchNorm2D, with a Sequential shortcut.

    No parameter here reaches the output through batch norms alone: a batch norm right
    after a layer takes back that layer's shifts (and, for 1x1 kernels from one channel,
    its scale), so their gradient is zero in the maths and all rounding in a check; and
    the batch norm's input has a spread (a tiny variance makes the check's steps too coarse)."""
    rng = np.random.default_rng(seed)
    model = cl.Sequential([
        cl.Tanh(),
        cl.Residual(cl.Sequential([cl.BatchNorm2D(C), cl.Tanh(), cl.Conv2D(C, 2 * C, 3, padding=1, rng=rng)]),
                    shortcut=cl.Sequential([cl.Conv2D(C, 2 * C, 1, rng=rng), cl.Tanh()])),
        cl.Tanh(),  # (with N = 1 the spatial mean of a batch norm's output is β, whatever γ)
        cl.GlobalAvgPool2D(),
        cl.Dense(2 * C, 2, rng=rng),
    ])  # fmt: skip
    keys = {
        "1.0.0.gamma",
        "1.0.0.beta",
        "1.0.2.w",
        "1.0.2.b",
        "1.shortcut.0.w",
        "1.shortcut.0.b",
        "4.w",
        "4.b",
    }
    x = spread_input(rng, (N, C, H, H))
    assert_gradcheck(model, x, seed, keys)
    model.eval()
    assert_gradcheck(model, x, seed, keys)


def test_identity_residual_sends_delta_along_both_branches():
    """y = F(x) + x: ∂E/∂x = F's backward of δ plus δ itself."""
    rng = np.random.default_rng(3)
    conv = cl.Conv2D(2, 2, 3, padding=1, rng=rng)
    res = cl.Residual(conv)
    x, dy = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2, 4, 4))
    np.testing.assert_allclose(res.forward(x), conv.forward(x) + x, rtol=1e-15)
    dx = res.backward(dy)
    np.testing.assert_allclose(dx, conv.backward(dy) + dy, rtol=1e-15)


def test_residual_errors():
    with pytest.raises(ValueError, match=r"at least one layer"):
        cl.Residual()
    res = cl.Residual(cl.Conv2D(2, 3, 1, rng=0))
    with pytest.raises(
        ValueError, match=r"shape \(1, 3, 2, 2\), to the input \(identity shortcut\), shape \(1, 2, 2, 2\)"
    ):
        res.forward(np.zeros((1, 2, 2, 2)))
    with pytest.raises(TypeError, match=r"layer 0 is the class ReLU, not a layer"):
        cl.Residual(cl.ReLU)
    with pytest.raises(TypeError, match=r"layer shortcut must have forward and backward"):
        cl.Residual(cl.ReLU(), shortcut=3)


def test_one_instance_at_one_place_also_inside_blocks():
    bn, relu = cl.BatchNorm2D(2), cl.ReLU()
    with pytest.raises(ValueError, match=r"BatchNorm2D\(2.*instance is at positions \[0, shortcut\]"):
        cl.Residual(bn, shortcut=bn)
    inner = cl.Residual(bn, relu)
    with pytest.raises(ValueError, match=r"ReLU\(\) instance is at positions \[0.1, 1\]"):
        cl.Sequential([inner, relu])
    with pytest.raises(ValueError, match=r"Residual\(.*instance is at positions \[0, 1.0\]"):
        cl.Sequential([inner, cl.Residual(inner)])


def test_train_and_eval_reach_every_nested_layer():
    model = block(2, np.random.default_rng(4))
    bns = [layer for _, layer in cl.nesting.named_layers(model) if isinstance(layer, cl.BatchNorm2D)]
    assert len(bns) == 2 and all(bn.training for bn in bns)
    assert model.eval() is model and not any(bn.training for bn in bns)
    model.train()
    assert all(bn.training for bn in bns)
    paths = [path for path, _ in cl.nesting.named_layers(model)]
    assert paths == ["", "0", "0.0", "0.1", "0.2", "0.3", "0.4", "1"]


def test_sgd_steps_nested_parameters():
    rng = np.random.default_rng(5)
    model = block(2, rng)
    x = spread_input(rng, (2, 2, 3, 3))
    y = model.forward(x)
    model.backward(np.ones_like(y))
    bn = model.layers[0].layers[1]
    gamma_before, dgamma = bn.params["gamma"].copy(), bn.grads["gamma"].copy()
    cl.SGD(model, 0.5).step()
    np.testing.assert_allclose(bn.params["gamma"], gamma_before - 0.5 * dgamma, rtol=1e-15)


def test_fit_validates_in_eval_mode_and_restores_each_mode():
    rng = np.random.default_rng(6)
    X, labels = spread_input(rng, (12, 1, 3, 3)), rng.integers(0, 2, 12)
    model = cl.Sequential(
        [cl.Conv2D(1, 2, 1, rng=rng), cl.BatchNorm2D(2), cl.GlobalAvgPool2D(), cl.Dense(2, 2, rng=rng)]
    )
    seen = []
    forward = model.layers[1].forward

    def spy(x):
        seen.append((len(x), model.layers[1].training))
        return forward(x)

    model.layers[1].forward = spy
    model.layers[3].training = False  # a mixed set of modes comes back as it was
    cl.fit(model, X, labels, loss=cl.softmax_cross_entropy, lr=0.1, epochs=2, batch_size=4, rng=0,
           val=(X[:5], labels[:5]))  # fmt: skip
    assert [mode for n, mode in seen if n == 5] == [False, False]  # the validation passes
    assert all(mode for n, mode in seen if n == 4)  # the training steps
    assert model.layers[1].training and not model.layers[3].training


def test_inputs_are_never_modified_nor_kept():
    """Forward and backward leave x and δ as they were; changing x between them changes nothing."""
    rng = np.random.default_rng(7)
    x, dy = spread_input(rng, (3, 2, 4, 4)), rng.standard_normal((3, 2, 4, 4))
    for make in (lambda: block(2, np.random.default_rng(8)), lambda: cl.BatchNorm2D(2)):
        x0, dy0 = x.copy(), dy.copy()
        first = make()
        first.forward(x)
        x[...] += 1.0  # after the forward: must not reach the backward
        dx = first.backward(dy)
        x[...] = x0
        second = make()
        second.forward(x)
        np.testing.assert_array_equal(dx, second.backward(dy))
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(dy, dy0)


def test_empty_batches_flow_in_eval_mode_and_are_refused_by_training_batch_norm():
    model = cl.Sequential([block(2, np.random.default_rng(9)), cl.GlobalAvgPool2D(), cl.Dense(2, 3, rng=0)])
    x = np.zeros((0, 2, 5, 5))
    with pytest.raises(ValueError, match=r"N·H·W >= 2"):
        model.forward(x)
    model.eval()
    y = model.forward(x)
    assert y.shape == (0, 3)
    dx = model.backward(np.zeros((0, 3)))
    assert dx.shape == x.shape
    res = cl.Residual(cl.ReLU())  # no batch norm: flows in training mode too
    assert res.backward(res.forward(x)).shape == x.shape
