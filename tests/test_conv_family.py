"""The convolution family: dilation, groups and the transposed convolution, against
cnnlib.reference's loops, central finite differences, PyTorch's sizes and hand-worked cases."""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import example, given
from strategies import EXACT_TOL, FD_TOL, SEEDS, fast_settings

import cnnlib as cl
from cnnlib import reference


@dataclass(frozen=True)
class FamilyCase:
    """A dilated, grouped convolution: x (N, G·cg, H, W), w (G·dg, cg, kh, kw)."""

    N: int
    G: int
    cg: int
    dg: int
    H: int
    W: int
    kh: int
    kw: int
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    seed: int

    @property
    def args(self):
        return self.stride, self.padding, self.dilation, self.G

    def arrays(self):
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.N, self.G * self.cg, self.H, self.W))
        w = rng.standard_normal((self.G * self.dg, self.cg, self.kh, self.kw))
        b = rng.standard_normal(self.G * self.dg)
        Ho, Wo = (
            cl.conv_output_size(n, k, s, p, d)
            for n, k, s, p, d in zip((self.H, self.W), (self.kh, self.kw), *self.args[:3], strict=True)
        )
        return x, w, b, rng.standard_normal((self.N, self.G * self.dg, Ho, Wo))


@st.composite
def family_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    return FamilyCase(
        N=draw(st.integers(1, 2)),
        G=draw(st.integers(1, 3)),
        cg=draw(st.integers(1, 2)),
        dg=draw(st.integers(1, 2)),
        H=draw(st.integers(max(1, eh - 2 * ph), eh + 3)),
        W=draw(st.integers(max(1, ew - 2 * pw), ew + 3)),
        kh=kh,
        kw=kw,
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=(ph, pw),
        dilation=(dh, dw),
        seed=draw(SEEDS),
    )


FAMILY_EXAMPLES = [
    # depthwise (G = C = D), dilation 2 with stride 2: gcd(s, d) = 2, offsets share a row phase
    FamilyCase(N=2, G=3, cg=1, dg=1, H=7, W=8, kh=3, kw=3, stride=(2, 2), padding=(1, 1),
               dilation=(2, 2), seed=1),
    # dilation 3 with stride 2 (coprime: every phase used), non-square, padding on one axis
    FamilyCase(N=1, G=2, cg=2, dg=1, H=9, W=5, kh=3, kw=2, stride=(2, 1), padding=(0, 2),
               dilation=(3, 1), seed=2),
    # the dilated kernel exactly as large as the padded input: one output position
    FamilyCase(N=1, G=1, cg=2, dg=2, H=3, W=5, kh=3, kw=3, stride=(1, 1), padding=(1, 0),
               dilation=(2, 2), seed=3),
]  # fmt: skip


def with_examples(test):
    for case in FAMILY_EXAMPLES:
        test = example(case=case)(test)
    return test


def fd_errors(forward, backward, x, w, b, dy):
    """Relative errors of backward's (dx, dw, db) against central differences of E = Σ y ⊙ δ."""

    def E(x_, w_, b_):
        return np.sum(forward(x_, w_, b_) * dy)

    numeric = (
        cl.numerical_gradient(lambda v: E(v, w, b), x),
        cl.numerical_gradient(lambda v: E(x, v, b), w),
        cl.numerical_gradient(lambda v: E(x, w, v), b),
    )
    return [cl.rel_error(got, num) for got, num in zip(backward(dy, x, w), numeric, strict=True)]


# --- dilation and groups -----------------------------------------------------------------------


@fast_settings(80)
@with_examples
@given(case=family_cases())
def test_dilated_grouped_matches_reference(case):
    """Forward and backward == the loops; y has PyTorch's size floor((n + 2p − d(k − 1) − 1)/s) + 1."""
    x, w, b, dy = case.arrays()
    y = cl.conv2d_forward(x, w, b, *case.args)
    assert y.shape == dy.shape
    assert cl.rel_error(y, reference.conv2d_forward(x, w, b, *case.args)) < EXACT_TOL
    got, ref = cl.conv2d_backward(dy, x, w, *case.args), reference.conv2d_backward(dy, x, w, *case.args)
    for a, r, like in zip(got, ref, (x, w, b), strict=True):
        assert a.shape == like.shape and cl.rel_error(a, r) < EXACT_TOL


@fast_settings(50)
@with_examples
@given(case=family_cases())
def test_dilated_grouped_matches_finite_differences(case):
    x, w, b, dy = case.arrays()
    for backward in (cl.conv2d_backward, reference.conv2d_backward):
        errors = fd_errors(
            lambda x_, w_, b_: cl.conv2d_forward(x_, w_, b_, *case.args),
            lambda dy_, x_, w_, bw=backward: bw(dy_, x_, w_, *case.args),
            x, w, b, dy,
        )  # fmt: skip
        assert max(errors) < FD_TOL


@fast_settings(40)
@with_examples
@given(case=family_cases())
def test_windows_route_dilated_grouped_matches_reference(case):
    """Forced onto the windows route with one-row blocks, the family equals the loops too."""
    x, w, b, dy = case.arrays()
    with cl.conv.forced_route("windows", block_bytes=1):
        y = cl.conv2d_forward(x, w, b, *case.args)
        got = cl.conv2d_backward(dy, x, w, *case.args)
    assert cl.rel_error(y, reference.conv2d_forward(x, w, b, *case.args)) < EXACT_TOL
    for a, r in zip(got, reference.conv2d_backward(dy, x, w, *case.args), strict=True):
        assert cl.rel_error(a, r) < EXACT_TOL


def test_dilation_is_a_kernel_with_zeros_between_its_taps():
    """conv(x, w, dilation=d) == conv(x, dilate(w, d)): the atrous kernel spelled out."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 11, 10)), rng.standard_normal((4, 3, 3, 2))
    for s, p, d in [(1, 0, 2), (2, 1, (3, 2)), ((1, 3), 2, (2, 4))]:
        np.testing.assert_allclose(
            cl.conv2d_forward(x, w, None, s, p, dilation=d),
            cl.conv2d_forward(x, cl.dilate(w, d), None, s, p),
            rtol=1e-12, atol=1e-12,
        )  # fmt: skip


def test_groups_are_independent_convolutions_on_channel_slices():
    """groups = G: output block g is the plain convolution of input block g with kernel block g;
    G = C = D is depthwise, each channel with its own kernel."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 6, 7, 7)), rng.standard_normal((9, 2, 3, 3))
    y = cl.conv2d_forward(x, w, None, 2, 1, groups=3)
    for g in range(3):
        plain = cl.conv2d_forward(x[:, 2 * g : 2 * g + 2], w[3 * g : 3 * g + 3], None, 2, 1)
        np.testing.assert_allclose(y[:, 3 * g : 3 * g + 3], plain, rtol=1e-12, atol=1e-12)
    wd = rng.standard_normal((6, 1, 3, 3))
    yd = cl.conv2d_forward(x, wd, groups=6)
    for c in range(6):
        np.testing.assert_allclose(
            yd[:, c], cl.conv2d_forward(x[:, c : c + 1], wd[c : c + 1])[:, 0], rtol=1e-12
        )


def test_default_family_arguments_are_the_plain_convolution_bit_for_bit():
    """dilation=1, groups=1 build the same layout as before the family existed and give
    exactly the same arrays (the results were also compared bit for bit with the base commit)."""
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4, 9, 8)), rng.standard_normal((5, 4, 3, 2)), rng.standard_normal(5)
    y = cl.conv2d_forward(x, w, b, 2, 1)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(cl.conv2d_forward(x, w, b, 2, 1, dilation=(1, 1), groups=1), y)
    for a, r in zip(
        cl.conv2d_backward(dy, x, w, 2, 1, 1, 1), cl.conv2d_backward(dy, x, w, 2, 1), strict=True
    ):
        np.testing.assert_array_equal(a, r)
    assert cl.conv.route_of(x.shape, w.shape, 2, 1) == cl.conv.route_of(x.shape, w.shape, 2, 1, (1, 1), 1)


def test_output_sizes_are_pytorchs():
    """The formula of PyTorch's Conv2d docs, H_out = floor((H + 2p − d(k − 1) − 1)/s + 1), by hand."""
    assert cl.conv_output_size(7, 3, dilation=2) == 3  # (7 − 4 − 1)/1 + 1
    assert cl.conv_output_size(32, 3, 1, 2, 2) == 32  # "same" padding for d = 2
    assert cl.conv_output_size(10, 3, 2, 1, 3) == 3  # floor((10 + 2 − 6 − 1)/2) + 1
    assert cl.conv_output_size(5, 3, 1, 0, 2) == 1  # the dilated kernel spans all 5
    y = cl.conv2d_forward(np.zeros((1, 4, 10, 12)), np.zeros((6, 2, 3, 3)), None, 2, 1, (3, 2), 2)
    assert y.shape == (1, 6, 3, 5)
    with pytest.raises(ValueError, match=r"window of size 5 \(kernel 3 dilated by 2\) is larger"):
        cl.conv_output_size(4, 3, dilation=2)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "message"),
    [
        ((1, 4, 5, 5), (6, 2, 3, 3), {"groups": 3}, ValueError, r"groups=3 must divide both.*C=4.*D=6"),
        ((1, 6, 5, 5), (4, 2, 3, 3), {"groups": 3}, ValueError, r"groups=3 must divide both.*C=6.*D=4"),
        ((1, 6, 5, 5), (6, 3, 3, 3), {"groups": 3}, ValueError,
         r"C/groups = 6/3 = 2.*w.shape=\(6, 3, 3, 3\)"),
        ((1, 2, 5, 5), (2, 2, 3, 3), {"dilation": 3}, ValueError,
         r"dilated by \(3, 3\) spans 7x7.*padded input 5x5"),
        ((1, 2, 5, 5), (2, 2, 3, 3), {"dilation": 0}, ValueError, r"dilation must be >= 1"),
        ((1, 2, 5, 5), (2, 2, 3, 3), {"dilation": 1.5}, TypeError, r"dilation must be an int.*float"),
        ((1, 2, 5, 5), (2, 1, 3, 3), {"groups": 2.0}, TypeError,
         r"groups must be an int, got 2.0 \(type float\)"),
        ((1, 2, 5, 5), (2, 2, 3, 3), {"groups": 0}, ValueError, r"groups must be >= 1, got 0"),
    ],
)  # fmt: skip
def test_family_argument_errors_name_the_values(x_shape, w_shape, kwargs, error, message):
    for f in (cl.conv2d_forward, reference.conv2d_forward):
        with pytest.raises(error, match=message):
            f(np.zeros(x_shape), np.zeros(w_shape), **kwargs)


# --- transposed convolution --------------------------------------------------------------------


@st.composite
def transposed_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    oph, opw = draw(st.integers(0, sh - 1)), draw(st.integers(0, sw - 1))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    # padding at most what leaves an output of at least one row and column
    ph = draw(st.integers(0, max(0, ((H - 1) * sh + kh + oph - 1) // 2)))
    pw = draw(st.integers(0, max(0, ((W - 1) * sw + kw + opw - 1) // 2)))
    rng = np.random.default_rng(draw(SEEDS))
    N, Ci, Co = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x, w, b = (
        rng.standard_normal((N, Ci, H, W)),
        rng.standard_normal((Ci, Co, kh, kw)),
        rng.standard_normal(Co),
    )
    return x, w, b, ((sh, sw), (ph, pw), (oph, opw)), rng


@fast_settings(80)
@given(case=transposed_cases())
def test_transposed_matches_reference_adjoint_and_size(case):
    """Vectorised == the scatter loops; y has (H − 1)s − 2p + k + output_padding rows; and it is
    the adjoint of the convolution: ⟨conv(z), x⟩ = ⟨z, conv_transpose(x)⟩ for any z."""
    x, w, b, args, rng = case
    (s, p, op), (kh, kw) = args, w.shape[2:]
    y = cl.conv_transpose2d_forward(x, w, b, *args)
    H, W = x.shape[2:]
    assert y.shape[2:] == ((H - 1) * s[0] - 2 * p[0] + kh + op[0], (W - 1) * s[1] - 2 * p[1] + kw + op[1])
    assert cl.rel_error(y, reference.conv_transpose2d_forward(x, w, b, *args)) < EXACT_TOL
    dy = rng.standard_normal(y.shape)
    for a, r in zip(
        cl.conv_transpose2d_backward(dy, x, w, *args), reference.conv_transpose2d_backward(dy, x, w, *args),
        strict=True,
    ):  # fmt: skip
        assert cl.rel_error(a, r) < EXACT_TOL
    z = rng.standard_normal(y.shape)
    lhs = np.vdot(cl.conv2d_forward(z, w, None, s, p), x)
    rhs = np.vdot(z, cl.conv_transpose2d_forward(x, w, None, *args))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


@fast_settings(50)
@given(case=transposed_cases())
def test_transposed_matches_finite_differences(case):
    x, w, b, args, rng = case
    dy = rng.standard_normal(cl.conv_transpose2d_forward(x, w, b, *args).shape)
    for backward in (cl.conv_transpose2d_backward, reference.conv_transpose2d_backward):
        errors = fd_errors(
            lambda x_, w_, b_: cl.conv_transpose2d_forward(x_, w_, b_, *args),
            lambda dy_, x_, w_, bw=backward: bw(dy_, x_, w_, *args),
            x, w, b, dy,
        )  # fmt: skip
        assert max(errors) < FD_TOL


def test_transposed_by_hand_and_as_the_input_gradient_of_a_convolution():
    """Stride 2, a 2x2 kernel of ones: each input pixel becomes a 2x2 block (nearest-neighbour
    upsampling); in general y is conv2d_backward's dx for δ = x."""
    x = np.array([[1.0, 2], [3, 4]]).reshape(1, 1, 2, 2)
    y = cl.conv_transpose2d_forward(x, np.ones((1, 1, 2, 2)), stride=2)
    np.testing.assert_array_equal(y[0, 0], np.kron(x[0, 0], np.ones((2, 2))))
    # stride 1, kernel [1, 10] along the width: overlapping patches add up
    y = cl.conv_transpose2d_forward(x, np.array([[[[1.0, 10]]]]))
    np.testing.assert_array_equal(y[0, 0], [[1, 12, 20], [3, 34, 40]])
    rng = np.random.default_rng(3)
    xt, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    y = cl.conv_transpose2d_forward(xt, w, None, 2, 1, 1)  # (2, 2, 8, 10)
    dx = cl.conv2d_backward(xt, np.zeros(y.shape), w, 2, 1)[0]
    np.testing.assert_allclose(y, dx, rtol=1e-12, atol=1e-12)


def test_transposed_sizes_from_pytorchs_docs():
    """H_out = (H − 1)·s − 2p + d(k − 1) + output_padding + 1 with d = 1."""
    cases = [
        ((4, 4), 3, 2, 1, 1, (8, 8)),
        ((5, 7), (3, 2), (2, 3), (1, 0), (0, 2), (9, 22)),
        ((1, 1), 4, 1, 0, 0, (4, 4)),
    ]
    for hw, k, s, p, op, expected in cases:
        kk = (k, k) if np.ndim(k) == 0 else k
        y = cl.conv_transpose2d_forward(np.zeros((1, 2, *hw)), np.zeros((2, 3, *kk)), None, s, p, op)
        assert y.shape == (1, 3, *expected)


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "kwargs", "error", "message"),
    [
        ((1, 2, 3, 3), (3, 2, 3, 3), {}, ValueError, r"C_in=2 channels.*expects C_in=3"),
        ((1, 2, 3, 3), (2, 2, 3, 3), {"stride": 2, "output_padding": 2}, ValueError,
         r"output_padding must be smaller than stride.*\(2, 2\) and stride=\(2, 2\)"),
        ((1, 2, 3, 3), (2, 2, 3, 3), {"stride": (2, 1), "output_padding": (1, 1)}, ValueError,
         r"output_padding must be smaller than stride"),
        ((1, 1, 1, 1), (1, 1, 1, 1), {"padding": 1}, ValueError,
         r"output size .* = -1x-1 must be at least 1x1"),
        ((1, 1, 0, 2), (1, 1, 2, 2), {}, ValueError, r"at least one input row and column"),
        ((1, 1, 2, 2), (1, 1, 2, 2), {"output_padding": -1}, ValueError, r"output_padding must be >= 0"),
        ((1, 1, 2, 2), (1, 1, 2, 2), {"stride": 1.0}, TypeError, r"stride must be an int.*float"),
    ],
)  # fmt: skip
def test_transposed_argument_errors_name_the_values(x_shape, w_shape, kwargs, error, message):
    for f in (cl.conv_transpose2d_forward, reference.conv_transpose2d_forward):
        with pytest.raises(error, match=message):
            f(np.zeros(x_shape), np.zeros(w_shape), **kwargs)
