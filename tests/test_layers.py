"""Tests of cnnlib.layers: every layer against the functions it wraps, cnnlib.reference and
finite differences (cl.gradcheck_layer), plus the params/grads contract and bad inputs."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given
from strategies import CONV_EXAMPLES, EXACT_TOL, FD_TOL, SEEDS, conv_cases, fast_settings, pool_cases

import cnnlib as cl
from cnnlib import reference


def assert_gradcheck(layer, x, seed):
    """Every entry of cl.gradcheck_layer (input and each parameter) below FD_TOL."""
    errors = cl.gradcheck_layer(layer, x, np.random.default_rng(seed))
    assert set(errors) == {"x"} | set(layer.params)
    for key, err in errors.items():
        assert err < FD_TOL, f"{key}: rel_error {err:.2e}"


# --- property tests -----------------------------------------------------------------------


@fast_settings(30)
@example(case=CONV_EXAMPLES[0])
@example(case=CONV_EXAMPLES[2])
@given(case=conv_cases())
def test_conv2d_layer(case):
    """Conv2D.forward == reference forward with its params; backward's dx and grads == the
    reference backward; finite differences agree for x, w and b."""
    x, _, _, dy = case.arrays().values()
    layer = cl.Conv2D(case.C, case.D, (case.kh, case.kw), case.stride, case.padding,
                      rng=np.random.default_rng(case.seed))  # fmt: skip
    w, b = layer.params["w"], layer.params["b"]
    assert w.shape == (case.D, case.C, case.kh, case.kw) and b.shape == (case.D,)
    y = layer.forward(x)
    assert cl.rel_error(y, reference.conv2d_forward(x, w, b, case.stride, case.padding)) < EXACT_TOL
    dx = layer.backward(dy)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(dy, x, w, case.stride, case.padding)
    assert cl.rel_error(dx, dx_ref) < EXACT_TOL
    assert cl.rel_error(layer.grads["w"], dw_ref) < EXACT_TOL
    assert cl.rel_error(layer.grads["b"], db_ref) < EXACT_TOL
    assert_gradcheck(layer, x, case.seed)


@pytest.mark.parametrize(
    ("cls", "ref_fwd", "ref_bwd"),
    [
        (cl.MaxPool2D, reference.maxpool2d_forward, reference.maxpool2d_backward),
        (cl.AvgPool2D, reference.avgpool2d_forward, reference.avgpool2d_backward),
    ],
)
@fast_settings(30)
@given(case=pool_cases())
def test_pool_layers(cls, ref_fwd, ref_bwd, case):
    """Pool layers == the reference loops forward and backward; finite differences agree;
    they have no parameters."""
    x, dy = case.arrays()
    layer = cls(case.size, case.stride)
    assert layer.params == {}
    assert cl.rel_error(layer.forward(x), ref_fwd(x, case.size, case.stride)) < EXACT_TOL
    assert cl.rel_error(layer.backward(dy), ref_bwd(dy, x, case.size, case.stride)) < EXACT_TOL
    assert_gradcheck(layer, x, case.seed)


ACTIVATIONS = {
    "ReLU": (cl.ReLU, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "Sigmoid": (cl.Sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
    "Tanh": (cl.Tanh, np.tanh, lambda x: 1 / np.cosh(x) ** 2),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@fast_settings(30)
@given(seed=SEEDS, shape=st.lists(st.integers(1, 3), min_size=2, max_size=4))
def test_activation_layers(name, seed, shape):
    """Activation layers compute f element-wise and backward δ ⊙ f′(x), written here from the
    textbook formulas; finite differences agree; they have no parameters."""
    cls, f, f_prime = ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    x, dy = 2 * rng.standard_normal(shape), rng.standard_normal(shape)
    layer = cls()
    assert layer.params == {}
    np.testing.assert_allclose(layer.forward(x), f(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.backward(dy), dy * f_prime(x), rtol=1e-12, atol=1e-15)
    assert_gradcheck(layer, x, seed)


@fast_settings(20)
@given(seed=SEEDS, shape=st.lists(st.integers(1, 3), min_size=1, max_size=4))
def test_flatten_layer(seed, shape):
    """Flatten keeps the batch axis and lays out the rest row-major; backward restores the shape."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    layer = cl.Flatten()
    y = layer.forward(x)
    assert y.shape == (shape[0], int(np.prod(shape[1:])))
    for n in range(shape[0]):
        assert y[n].tolist() == [v for v in x[n].ravel()]
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy.reshape(shape))
    assert_gradcheck(layer, x, seed)


@fast_settings(30)
@given(seed=SEEDS, N=st.integers(1, 3), n_in=st.integers(1, 5), n_out=st.integers(1, 4))
def test_dense_layer(seed, N, n_in, n_out):
    """Dense: params["w"] is (out, in) and y[n, o] = Σ_i w[o, i] x[n, i] + b[o] (summed by hand
    here); finite differences agree for x, w and b."""
    rng = np.random.default_rng(seed)
    layer = cl.Dense(n_in, n_out, rng=rng)
    w, b = layer.params["w"], layer.params["b"]
    assert w.shape == (n_out, n_in) and b.shape == (n_out,)
    x = rng.standard_normal((N, n_in))
    expected = [[sum(w[o, i] * x[n, i] for i in range(n_in)) + b[o] for o in range(n_out)] for n in range(N)]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-14)
    assert_gradcheck(layer, x, seed)


# --- the params/grads contract ----------------------------------------------------------------------


def _param_layers():
    rng = np.random.default_rng(0)
    conv = (
        cl.Conv2D(2, 3, (2, 3), stride=(1, 2), padding=(1, 0), rng=rng),
        rng.standard_normal((2, 2, 4, 5)),
    )
    dense = (cl.Dense(4, 3, rng=rng), rng.standard_normal((5, 4)))
    return {"Conv2D": conv, "Dense": dense}


@pytest.mark.parametrize("name", ["Conv2D", "Dense"])
def test_backward_overwrites_grads(name):
    """Calling backward twice with the same δ leaves the same grads (not doubled); after another
    forward/backward the grads belong to the new input only. grads has the keys of params."""
    layer, x = _param_layers()[name]
    rng = np.random.default_rng(1)
    dy = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dy)
    first = {k: g.copy() for k, g in layer.grads.items()}
    assert set(first) == set(layer.params) == {"w", "b"}
    for k in first:
        assert first[k].shape == layer.params[k].shape
    layer.backward(dy)
    for k in first:
        np.testing.assert_array_equal(layer.grads[k], first[k])
    x2 = rng.standard_normal(x.shape)
    layer.forward(x2)
    layer.backward(dy)
    fresh, _ = _param_layers()[name]
    fresh.forward(x2)
    fresh.backward(dy)
    for k in first:
        np.testing.assert_allclose(layer.grads[k], fresh.grads[k], rtol=1e-12)


def test_default_init_is_pytorch_uniform():
    """w and b start U(−1/√fan_in, 1/√fan_in), fan_in = C·kh·kw (conv) or in_features (dense);
    the same seed gives the same weights, different seeds different ones."""
    conv = cl.Conv2D(3, 8, (2, 4), rng=np.random.default_rng(5))
    dense = cl.Dense(50, 40, rng=np.random.default_rng(5))
    for layer, fan_in in ((conv, 3 * 2 * 4), (dense, 50)):
        bound = 1 / np.sqrt(fan_in)
        for p in layer.params.values():
            assert np.all(np.abs(p) <= bound)
        w = layer.params["w"]
        assert w.max() > 0.8 * bound and w.min() < -0.8 * bound  # spread over the whole interval
    again = cl.Conv2D(3, 8, (2, 4), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(again.params["w"], conv.params["w"])
    other = cl.Conv2D(3, 8, (2, 4), rng=np.random.default_rng(6))
    assert not np.array_equal(other.params["w"], conv.params["w"])
    assert cl.Dense(2, 2).params["w"].shape == (2, 2)  # rng=None works


def test_float32_layers():
    """With dtype=float32 params and a float32 input, outputs, dx and grads are float32; layers
    without params keep float32 too."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    conv = cl.Conv2D(2, 3, 2, rng=rng, dtype=np.float32)
    dense = cl.Dense(4, 3, rng=rng, dtype=np.float32)
    cases = [(conv, x), (dense, x[:, 0, 0, :4])] + [
        (layer, x)
        for layer in (cl.MaxPool2D(2), cl.AvgPool2D(2, 1), cl.ReLU(), cl.Sigmoid(), cl.Tanh(), cl.Flatten())
    ]
    for layer, inp in cases:
        y = layer.forward(inp)
        assert y.dtype == np.float32, layer
        dx = layer.backward(np.ones_like(y))
        assert dx.dtype == np.float32, layer
        for g in layer.grads.values():
            assert g.dtype == np.float32, layer


def _all_layers():
    rng = np.random.default_rng(3)
    return {
        "Conv2D": (cl.Conv2D(2, 3, (2, 3), stride=2, padding=1, rng=rng), (2, 2, 4, 5)),
        "MaxPool2D": (cl.MaxPool2D((2, 3), stride=1), (2, 2, 4, 5)),
        "AvgPool2D": (cl.AvgPool2D(2), (2, 2, 4, 5)),
        "ReLU": (cl.ReLU(), (2, 2, 4, 5)),
        "Sigmoid": (cl.Sigmoid(), (2, 2, 4, 5)),
        "Tanh": (cl.Tanh(), (2, 2, 4, 5)),
        "Flatten": (cl.Flatten(), (2, 2, 4, 5)),
        "Dense": (cl.Dense(5, 3, rng=rng), (2, 5)),
    }


@pytest.mark.parametrize("name", list(_all_layers()))
def test_int_and_list_inputs(name):
    """Integer arrays and nested lists are accepted and give the float64 result."""
    layer, shape = _all_layers()[name]
    x = np.random.default_rng(4).integers(-3, 4, size=shape)
    y = layer.forward(x.astype(np.float64))
    dx = layer.backward(np.ones_like(y))
    for arg in (x, x.tolist()):
        y2 = layer.forward(arg)
        assert y2.dtype == np.float64
        np.testing.assert_array_equal(y2, y)
        dx2 = layer.backward(np.ones(y.shape, dtype=int).tolist())
        assert dx2.dtype == np.float64
        np.testing.assert_array_equal(dx2, dx)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(_all_layers()))
def test_layers_do_not_modify_inputs(name, dtype):
    """forward never writes into x, backward never into dy (nor into the saved x)."""
    layer, shape = _all_layers()[name]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    x0 = x.copy()
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy0 = dy.copy()
    layer.backward(dy)
    layer.backward(dy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)


# --- bad inputs ------------------------------------------------------------------------------------


def test_conv2d_in_channels_mismatch():
    """Conv2D(3, ...) given a 2-channel input names in_channels=3, C=2 and the shape."""
    layer = cl.Conv2D(3, 4, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"in_channels=3.*C=2.*\(1, 2, 5, 5\)"):
        layer.forward(np.zeros((1, 2, 5, 5)))


def test_conv2d_layer_wrong_ndim():
    """A single image without the batch axis names the expected layout and the shape."""
    layer = cl.Conv2D(3, 4, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x must be 4-D .*\(N, C, H, W\).*\(3, 5, 5\)"):
        layer.forward(np.zeros((3, 5, 5)))


def test_conv2d_layer_kernel_larger_than_input():
    """A 5x5 kernel on a 3x3 input (padding 0) names both sizes."""
    layer = cl.Conv2D(1, 1, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"kernel 5x5 .*larger than the padded input 3x3"):
        layer.forward(np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"stride": 0}, ValueError, r"stride must be >= 1.*got 0"),
        ({"stride": 2.5}, TypeError, r"stride must be an int.*2\.5"),
        ({"padding": (0, -1)}, ValueError, r"padding must be >= 0.*\(0, -1\)"),
        ({"kernel_size": 0}, ValueError, r"kernel_size must be >= 1.*got 0"),
        ({"kernel_size": (2, 1.5)}, TypeError, r"kernel_size must be an int.*1\.5"),
        ({"in_channels": 0}, ValueError, r"in_channels must be a positive int, got 0"),
        ({"out_channels": 2.0}, ValueError, r"out_channels must be a positive int, got 2\.0"),
    ],
)
def test_conv2d_constructor_bad_arguments(kwargs, error, pattern):
    """Each bad Conv2D argument fails at construction with a message naming it."""
    args = {"in_channels": 1, "out_channels": 1, "kernel_size": 2} | kwargs
    with pytest.raises(error, match=pattern):
        cl.Conv2D(**args, rng=np.random.default_rng(0))


@pytest.mark.parametrize("cls", [cl.MaxPool2D, cl.AvgPool2D])
def test_pool_layer_bad_arguments(cls):
    """Pool size < 1 or non-integer, and stride < 1, fail at construction naming the value;
    a window larger than the input fails in forward naming both sizes."""
    with pytest.raises(ValueError, match=r"size must be >= 1.*got 0"):
        cls(0)
    with pytest.raises(TypeError, match=r"size must be an int.*1\.5"):
        cls(1.5)
    with pytest.raises(ValueError, match=r"stride must be >= 1.*got \(1, 0\)"):
        cls(2, (1, 0))
    with pytest.raises(ValueError, match=r"pool window 3x3 is larger than the input 2x4"):
        cls(3).forward(np.zeros((1, 1, 2, 4)))


def test_dense_feature_mismatch():
    """Dense(5, 2) given 4 features names in_features=5 and the shape it got; a 4-D input (a
    forgotten Flatten) is named too."""
    layer = cl.Dense(5, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(N, 5\), got \(3, 4\)"):
        layer.forward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(N, 5\), got \(3, 1, 1, 5\)"):
        layer.forward(np.zeros((3, 1, 1, 5)))


def test_dense_constructor_bad_arguments():
    """in_features and out_features must be positive ints."""
    with pytest.raises(ValueError, match=r"in_features must be a positive int, got 0"):
        cl.Dense(0, 2)
    with pytest.raises(ValueError, match=r"out_features must be a positive int, got -1"):
        cl.Dense(2, -1)


@pytest.mark.parametrize("name", list(_all_layers()))
def test_layer_dy_wrong_shape(name):
    """Every layer's backward names the forward output's shape and the wrong dy shape it got."""
    layer, shape = _all_layers()[name]
    y = layer.forward(np.zeros(shape))
    bad = y.shape[:-1] + (y.shape[-1] + 1,)
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output") as info:
        layer.backward(np.zeros(bad))
    assert str(y.shape) in str(info.value) and str(bad) in str(info.value)


@pytest.mark.parametrize("name", list(_all_layers()))
def test_backward_before_forward(name):
    """backward before any forward is a RuntimeError naming the layer."""
    layer, shape = _all_layers()[name]
    with pytest.raises(RuntimeError, match=rf"{name}\.backward called before forward"):
        layer.backward(np.zeros(shape))
