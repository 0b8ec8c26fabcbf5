"""The convolution family at the edges: empty arrays, inf and NaN, dtypes, inputs
neither modified nor kept; the layers Conv2D(dilation, groups) and ConvTranspose2D; and
cnnlib.check on a learner's dilated or grouped convolution."""

from __future__ import annotations

import numpy as np
import pytest
from strategies import EXACT_TOL, FD_TOL

import cnnlib as cl
from cnnlib import check, reference

# (function, reference, make arrays (x, w, b), extra arguments), for forward and backward alike
CONV = (cl.conv2d_forward, cl.conv2d_backward, reference.conv2d_forward, reference.conv2d_backward)
TRANSPOSED = (
    cl.conv_transpose2d_forward, cl.conv_transpose2d_backward,
    reference.conv_transpose2d_forward, reference.conv_transpose2d_backward,
)  # fmt: skip
FAMILIES = {
    "dilated grouped": (CONV, (2, 4, 9, 8), (6, 2, 3, 2), (2, 1, (2, 3), 2)),
    "depthwise": (CONV, (2, 3, 7, 7), (3, 1, 3, 3), (1, 1, 2, 3)),
    "transposed": (TRANSPOSED, (2, 3, 4, 3), (3, 2, 3, 2), (2, 1, (1, 0))),
}


def arrays(name, rng=0, dtype=np.float64):
    (fwd, *_), x_shape, w_shape, args = FAMILIES[name]
    rng = np.random.default_rng(rng)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[1] if fwd is cl.conv_transpose2d_forward else w_shape[0]).astype(dtype)
    dy = rng.standard_normal(fwd(x, w, b, *args).shape).astype(dtype)
    return x, w, b, dy, args


@pytest.mark.parametrize("name", FAMILIES)
def test_empty_batch_and_empty_channels(name):
    """N = 0, and no input or output channel, give arrays of the right shapes (y = the bias)."""
    (fwd, bwd, rfwd, rbwd), x_shape, w_shape, args = FAMILIES[name]
    transposed = fwd is cl.conv_transpose2d_forward
    for empty in ("N", "C_in", "C_out"):  # groups divide 0: the arguments stay as they are
        xs, ws = list(x_shape), list(w_shape)
        if empty == "N":
            xs[0] = 0
        elif empty == "C_in":
            xs[1] = 0
            ws[0 if transposed else 1] = 0
        else:
            ws[1 if transposed else 0] = 0
        x, w = np.ones(xs), np.ones(ws)
        b = np.ones(ws[1] if transposed else ws[0])
        y = fwd(x, w, b, *args)
        np.testing.assert_array_equal(y, rfwd(x, w, b, *args))
        dy = np.ones(y.shape)
        for got, ref, like in zip(bwd(dy, x, w, *args), rbwd(dy, x, w, *args), (x, w, b), strict=True):
            assert got.shape == like.shape
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_inf_and_nan_sit_where_the_loops_put_them(name):
    (fwd, bwd, rfwd, rbwd), *_ = FAMILIES[name]
    x, w, b, dy, args = arrays(name)
    for where in ("x", "w"):
        xi, wi = x.copy(), w.copy()
        (xi if where == "x" else wi)[0, 0, 1, 1] = np.inf
        (xi if where == "x" else wi)[-1, -1, 0, 0] = np.nan
        np.testing.assert_array_equal(np.isnan(fwd(xi, wi, b, *args)), np.isnan(rfwd(xi, wi, b, *args)))
        np.testing.assert_array_equal(np.isinf(fwd(xi, wi, b, *args)), np.isinf(rfwd(xi, wi, b, *args)))
        for got, ref in zip(bwd(dy, xi, wi, *args), rbwd(dy, xi, wi, *args), strict=True):
            np.testing.assert_array_equal(np.isfinite(got), np.isfinite(ref))
            np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
            ok = np.isfinite(ref)
            assert cl.rel_error(got[ok], ref[ok]) < EXACT_TOL


@pytest.mark.parametrize("name", FAMILIES)
def test_dtypes_and_inputs_untouched(name):
    """float32 stays float32; ints and lists become float64; nothing the caller passed changes."""
    (fwd, bwd, *_), *_ = FAMILIES[name]
    x, w, b, dy, args = arrays(name, dtype=np.float32)
    kept = [a.copy() for a in (x, w, b, dy)]
    assert fwd(x, w, b, *args).dtype == np.float32
    assert all(g.dtype == np.float32 for g in bwd(dy, x, w, *args))
    for a, k in zip((x, w, b, dy), kept, strict=True):
        np.testing.assert_array_equal(a, k)
    xi, wi = np.round(x * 3).astype(int), np.round(w * 3).astype(int)
    assert fwd(xi.tolist(), wi, None, *args).dtype == np.float64
    assert all(g.dtype == np.float64 for g in bwd(dy.astype(int), xi, wi.astype(np.float32), *args))
    with pytest.raises(TypeError, match="x must hold real numbers, got dtype complex128"):
        fwd(x.astype(complex), w, None, *args)


def test_the_cache_route_of_a_dilated_grouped_convolution():
    """conv2d_backward(..., cache=) == without; a cache of another dilation is a ValueError naming it."""
    x, w, b, dy, args = arrays("dilated grouped")
    y, cache = cl.conv2d_forward_with_cache(x, w, b, *args)
    cached = cl.conv2d_backward(dy, None, w, *args, cache=cache)
    for got, ref in zip(cached, cl.conv2d_backward(dy, x, w, *args), strict=True):
        np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match=r"same shapes.*dilation \(2, 3\), groups 2"):
        cl.conv2d_backward(dy, x, w, *args, cache=cl.conv2d_forward_with_cache(x, w, b, 2, 1, 2, 2)[1])


# --- layers ------------------------------------------------------------------------------------------


def test_conv2d_layer_with_dilation_and_groups():
    layer = cl.Conv2D(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, rng=0)
    assert layer.params["w"].shape == (6, 2, 3, 3)
    assert np.abs(layer.params["w"]).max() <= 1 / np.sqrt(2 * 9)  # fan_in = C/groups·kh·kw, PyTorch's
    x = np.random.default_rng(1).standard_normal((2, 4, 9, 9))
    np.testing.assert_array_equal(layer.forward(x), cl.conv2d_forward(x, *layer.params.values(), 2, 2, 2, 2))
    errors = cl.gradcheck_layer(layer, x, np.random.default_rng(2))
    assert max(errors.values()) < FD_TOL
    assert "dilation=(2, 2), groups=2" in repr(layer)
    with pytest.raises(ValueError, match=r"groups=4 must divide both.*C=6.*D=4"):
        cl.Conv2D(6, 4, 3, groups=4)


def test_conv_transpose2d_layer():
    """PyTorch's initialisation (fan_in = w.shape[1]·kh·kw = C_out·kh·kw), params/grads dicts of
    new arrays, a copy of x kept, empty batches, dtypes, rng as everywhere."""
    layer = cl.ConvTranspose2D(6, 4, 3, stride=2, padding=1, output_padding=1, rng=0)
    assert layer.params["w"].shape == (6, 4, 3, 3) and layer.params["b"].shape == (4,)
    bound = 1 / np.sqrt(4 * 9)
    w = cl.ConvTranspose2D(6, 4, 3, rng=1).params["w"]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound  # 216 draws reach the bound
    x = np.random.default_rng(3).standard_normal((2, 6, 4, 5))
    y = layer.forward(x)
    assert y.shape == (2, 4, 8, 10)
    x_before, dy = x.copy(), np.random.default_rng(4).standard_normal(y.shape)
    x[...] = 0  # the caller changes x: the layer kept its own copy
    dx = layer.backward(dy)
    ref = cl.conv_transpose2d_backward(dy, x_before, layer.params["w"], 2, 1, 1)
    for got, r in zip((dx, layer.grads["w"], layer.grads["b"]), ref, strict=True):
        np.testing.assert_array_equal(got, r)
    assert layer.grads.keys() == layer.params.keys()
    assert max(cl.gradcheck_layer(layer, x_before, np.random.default_rng(5)).values()) < FD_TOL
    assert layer.forward(np.zeros((0, 6, 4, 5))).shape == (0, 4, 8, 10)
    assert layer.backward(np.zeros((0, 4, 8, 10))).shape == (0, 6, 4, 5)
    assert (
        cl.ConvTranspose2D(2, 3, 2, rng=0, dtype=np.float32).forward(np.ones((1, 2, 3, 3), np.float32)).dtype
        == np.float32
    )
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64"):
        cl.ConvTranspose2D(2, 3, 2, dtype=np.int64)
    with pytest.raises(ValueError, match=r"output_padding must be smaller than stride.*\(2, 2\).*\(2, 2\)"):
        cl.ConvTranspose2D(2, 3, 2, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"expects in_channels=6, got an input with C=2"):
        layer.forward(np.ones((1, 2, 4, 4)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        cl.ConvTranspose2D(2, 3, 2).backward(np.ones((1, 3, 3, 3)))
    np.testing.assert_array_equal(
        cl.ConvTranspose2D(2, 3, 2, rng=7).params["w"],
        cl.ConvTranspose2D(2, 3, 2, rng=np.random.default_rng(7)).params["w"],
    )


def test_an_upsampling_net_trains():
    """Conv2D (stride 2) then ConvTranspose2D (stride 2) back to the input's size: SGD lowers the loss."""
    rng = np.random.default_rng(0)
    up = cl.ConvTranspose2D(4, 1, 3, stride=2, padding=1, output_padding=1, rng=rng)
    net = cl.Sequential([cl.Conv2D(1, 4, 3, stride=2, padding=1, rng=rng), cl.Tanh(), up])
    X = rng.standard_normal((16, 1, 8, 8))
    history = cl.fit(net, X, X, loss=cl.mse_loss, lr=0.01, epochs=20, batch_size=8, rng=1)
    assert net.forward(X).shape == X.shape
    assert history["loss"][-1] < 0.5 * history["loss"][0]


# --- cnnlib.check -----------------------------------------------------------------------------------


def learner_backward(dy, x, w, stride, padding, dilation=1):
    """A learner's dilated backward: the scatter loops with m·d."""
    (sh, sw), (ph, pw), (dh, dw_) = (cl.shapes.as_pair(v, "") for v in (stride, padding, dilation))
    xp = cl.pad(x, (ph, pw))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), dy.sum(axis=(0, 2, 3))
    kh, kw = w.shape[2:]
    for i in range(dy.shape[2]):
        for j in range(dy.shape[3]):
            for m in range(kh):
                for n in range(kw):
                    u, v = i * sh + m * dh, j * sw + n * dw_
                    dw[:, :, m, n] += np.einsum("nd,nc->dc", dy[:, :, i, j], xp[:, :, u, v])
                    dxp[:, :, u, v] += dy[:, :, i, j] @ w[:, :, m, n]
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], dw, db


def test_check_a_learners_dilated_backward():
    """A correct dilated implementation passes; the same code ignoring dilation fails every case."""
    report = check.conv_backward(learner_backward, convention="cnnlib", dilation=2)
    assert report and len(report.cases) == len(check.CONV_CASES)
    assert all(r.spec.dilation == (2, 2) for r in report.cases)
    ignoring = check.conv_backward(lambda dy, x, w, s, p, dilation=1: learner_backward(dy, x, w, s, p),
                                   convention="cnnlib", dilation=2)  # fmt: skip
    assert not ignoring and all(r.verdict != "pass" for r in ignoring.cases)
    assert ignoring.diagnosis
    assert check.conv_backward(learner_backward, convention="cnnlib")  # dilation 1: the plain cases
    with pytest.raises(ValueError, match="cnnlib' convention only"):
        check.conv_backward(learner_backward, convention="cs231n", dilation=2)


def test_check_a_grouped_forward():
    def grouped(x, w, b, stride, padding, groups=1):
        C, D = x.shape[1] // groups, w.shape[0] // groups
        return np.concatenate([cl.conv2d_forward(x[:, g * C : (g + 1) * C], w[g * D : (g + 1) * D],
                                                 b[g * D : (g + 1) * D], stride, padding)
                               for g in range(groups)], axis=1)  # fmt: skip

    assert check.conv_forward(grouped, groups=2)
    assert not check.conv_forward(lambda x, w, b, s, p, groups=1: grouped(x, w, b, s, p, 1), groups=2)
