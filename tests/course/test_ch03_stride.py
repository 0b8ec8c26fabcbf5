"""Tests of cnnlib.course.ch03_stride: the stride explorer and the exercise checkers of notebook 03
(notebook 02's are tested in test_ch02_multi_kernel)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch03_stride as ch03
from cnnlib.course import explore


def _dilate_loops(a, s):
    out = np.zeros(((a.shape[0] - 1) * s + 1, (a.shape[1] - 1) * s + 1))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i * s, j * s] = a[i, j]
    return out


def _strided_dx(delta, w, H, W, s, p):
    kh, kw = w.shape
    full = cl.pad(_dilate_loops(delta, s), (kh - 1, kw - 1))
    core = cl.reference.correlate2d(full, cl.rot180(w))
    dxp = np.zeros((H + 2 * p, W + 2 * p))
    dxp[: core.shape[0], : core.shape[1]] = core
    return dxp[p : p + H, p : p + W]


def _coverage(n, k, s, p):
    c = np.zeros(n + 2 * p, dtype=int)
    for i in range(cl.conv_output_size(n, k, s, p)):
        c[i * s : i * s + k] += 1
    return c[p : p + n]


def test_stride_explorer_updates_in_place():
    fig, update = ch03.stride_explorer(seed=0)
    n_axes, n_images = len(fig.axes), sum(len(ax.images) for ax in fig.axes)
    ax_cov, ax_dil, ax_dx = fig.axes[:3]
    info = update(input_size=8, kernel_size=3, stride=2, padding=1, row=1, col=2)
    settings = {"input_size": 8, "kernel_size": 3, "stride": 2, "padding": 1}
    assert info == {**settings, "row": 1, "col": 2, "Ho": 4, "r": 1, "zero_rows": 0}
    cov = cl.shapes.coverage_map(8, 8, 3, 2, 1, padded=True)
    np.testing.assert_array_equal(ax_cov.images[0].get_array(), cov)
    # the red window of y[1, 2] starts at padded row 1·2, column 2·2 and is k×k
    window = [p for p in ax_cov.patches if p.get_edgecolor()[:3] == matplotlib.colors.to_rgb("tab:red")][0]
    assert (window.get_x(), window.get_y(), window.get_width(), window.get_height()) == (3.5, 1.5, 3, 3)
    assert ax_dil.images[0].get_array().shape == (7, 7)  # dilate(δ (4x4), 2)
    assert ax_dx.images[0].get_array().shape == (8, 8)
    # s > k: rows between windows and r leftover rows get no gradient
    info = update(input_size=7, kernel_size=2, stride=3, padding=0)
    assert (info["Ho"], info["r"], info["zero_rows"]) == (2, 2, 3)
    dx = np.asarray(ax_dx.images[0].get_array())
    np.testing.assert_array_equal(np.flatnonzero(~dx.any(axis=1)), [2, 5, 6])
    # a kernel larger than the padded input is reported, not raised
    info = update(input_size=4, kernel_size=5, stride=1, padding=0)
    assert info["Ho"] == 0 and "no window fits" in info["reason"]
    assert "larger than the padded input" in fig.get_suptitle()
    # the output index is clamped; no artists are added by updates
    info = update(input_size=6, kernel_size=2, stride=2, padding=0, row=9, col=9)
    assert (info["Ho"], info["row"], info["col"]) == (3, 2, 2)
    assert "y[2, 2]" in ax_cov.get_title()
    assert len(fig.axes) == n_axes and sum(len(ax.images) for ax in fig.axes) == n_images
    assert explore.render_png(fig)[:4] == b"\x89PNG"


def test_stride_explorer_is_deterministic():
    fig1, up1 = ch03.stride_explorer(seed=3)
    fig2, up2 = ch03.stride_explorer(seed=3)
    up1(input_size=9, kernel_size=3, stride=2, padding=1)
    up2(input_size=9, kernel_size=3, stride=2, padding=1)
    for a1, a2 in zip(fig1.axes[:3], fig2.axes[:3], strict=True):
        np.testing.assert_array_equal(a1.images[0].get_array(), a2.images[0].get_array())


@pytest.mark.parametrize(
    "checker, right, wrong",
    [
        (
            ch03.check_strided_dx,
            lambda *args: _scattered_dx(*args),
            lambda d, w, H, W, s, p: _scattered_dx(d, w, H, W, s, 0),
        ),
        (ch03.check_coverage, _coverage, lambda n, k, s, p: np.ones(n, dtype=int)),
    ],
)
def test_checkers_accept_right_and_reject_wrong(checker, right, wrong, capsys):
    assert checker(right)
    assert "correct on all" in capsys.readouterr().out
    assert not checker(wrong)
    out = capsys.readouterr().out
    assert "correct on all" not in out and ("FAIL" in out or "ERROR" in out) and "case 1 (" in out
    assert not checker(lambda *args: None)
    assert "not implemented yet" in capsys.readouterr().out


def _scattered_dx(delta, w, H, W, s, p, reach=False, crop="p:p+H", taps="i*s+m", flip=False, assign=False):
    """∂E/∂x by scattering, one product at a time: output (i, j) sends δ[i, j]·w[m, n] back to the pixel
    it read. reach: ∂E/∂x_p only as large as the windows reach; crop: "p:p+H", "p:-p" or "p:end-p";
    taps: which row of x_p entry m of output i meets ("i*s+m" right; "m*s+i", "i+m", "(i+m)*s" wrong)."""
    (Ho, Wo), (kh, kw) = delta.shape, w.shape
    rows, cols = ((Ho - 1) * s + kh, (Wo - 1) * s + kw) if reach else (H + 2 * p, W + 2 * p)
    dxp = np.zeros((rows, cols))
    where = {
        "i*s+m": lambda i, m: i * s + m,
        "m*s+i": lambda i, m: m * s + i,
        "i+m": lambda i, m: i + m,
        "(i+m)*s": lambda i, m: (i + m) * s,
    }[taps]
    for m in range(kh):  # kernel entries outermost, as in the exercise (it matters for "=")
        for n in range(kw):
            for i in range(Ho):
                for j in range(Wo):
                    weight = w[kh - 1 - m, kw - 1 - n] if flip else w[m, n]
                    u, v = where(i, m), where(j, n)
                    dxp[u, v] = delta[i, j] * weight + (0 if assign else dxp[u, v])
    if crop == "p:-p":
        return dxp[p:-p, p:-p]
    if crop == "p:end-p":
        return dxp[p : rows - p, p : cols - p]
    return dxp[p : p + H, p : p + W]


def test_strided_dx_checker_accepts_the_scatter_and_names_each_planted_bug(capsys):
    assert ch03.check_strided_dx(_scattered_dx)
    assert "correct on all 6 cases" in capsys.readouterr().out
    planted = {"reach": True, "taps": "m*s+i"}
    verdict = ch03.check_strided_dx(lambda *a: _scattered_dx(*a, **planted), diagnose=False)
    out = capsys.readouterr().out
    # verdicts only, and only the stride-1 case passes
    assert verdict.passed_cases == 1 and verdict.bugs == () and "Likely bug" not in out
    assert "case 6 (delta 5×7, w 3×2, H=5, W=6, s=1, p=1): pass" in out
    for kwargs, bugs in [
        (planted, ("leftover-rows", "stride")),
        ({"reach": True}, ("leftover-rows",)),  # right where r <= p (case 5) and r = 0
        ({"reach": True, "crop": "p:end-p"}, ("leftover-rows",)),  # r short wherever r > 0
        ({"taps": "m*s+i"}, ("stride",)),
        ({"taps": "i+m"}, ("stride",)),
        ({"taps": "(i+m)*s"}, ("stride",)),
        ({"flip": True}, ("flip",)),
        ({"assign": True}, ("accumulate",)),
        ({"crop": "p:-p"}, ("crop",)),
        ({"taps": "i+m", "flip": True}, ("stride", "flip")),
    ]:
        verdict = ch03.check_strided_dx(lambda *a, kw=kwargs: _scattered_dx(*a, **kw))
        assert not verdict and set(verdict.bugs) == set(bugs), (kwargs, verdict.bugs)
    # the chain of section 2.2 (dilate, pad, correlate with rot180(w)) is right, but skips the exercise
    verdict = ch03.check_strided_dx(_strided_dx)
    out = capsys.readouterr().out
    assert (
        not verdict
        and verdict.passed_cases == verdict.total
        and verdict.broken_rules == ("library-gradient",)
    )
    assert "rule broken (library-gradient)" in out
    # the half fix that keeps the short array passes case 5 (r = 2 <= p = 2) and says why
    verdict = ch03.check_strided_dx(lambda *a: _scattered_dx(*a, reach=True))
    out = capsys.readouterr().out
    assert "case 5 (delta 3×3, w 3×1, H=7, W=5, s=3, p=2): pass" in out and "r <= p" in out


def test_coverage_checker_names_each_wrong_attempt():
    def padded_counts(n, k, s, p, extra=0):
        c = np.zeros(n + 2 * p + extra * (k + s), dtype=int)
        for i in range(cl.conv_output_size(n, k, s, p) + extra):
            c[i * s : i * s + k] += 1
        return c

    for wrong, bug in [
        (lambda n, k, s, p: padded_counts(n, k, s, p)[:n], "padding"),
        (lambda n, k, s, p: padded_counts(n, k, s, p), "crop"),
        (lambda n, k, s, p: padded_counts(n, k, s, p, extra=1)[p : p + n], "leftover-rows"),
        (lambda n, k, s, p: np.full(n, -(-k // s)), "border"),
    ]:
        verdict = ch03.check_coverage(wrong)
        assert not verdict and verdict.bugs == (bug,)


def test_coverage_checker_refuses_the_library_map():
    """The exercise is the closed form: a function that asks cl.shapes.coverage_map passes every case
    but breaks the rule; a closed form written out passes."""

    def from_library(n, k, s, p):
        return cl.shapes.coverage_map(n, 1, (k, 1), (s, 1), (p, 0))[:, 0]

    verdict = ch03.check_coverage(from_library)
    assert (
        not verdict
        and verdict.passed_cases == verdict.total
        and verdict.broken_rules == ("library-coverage",)
    )

    def closed_form(n, k, s, p):
        Ho = (n + 2 * p - k) // s + 1
        u = np.arange(n) + p  # padded row of each input position
        first = np.maximum(0, -(-(u - k + 1) // s))  # the first window that reaches row u
        last = np.minimum(Ho - 1, u // s)  # the last window that starts at or before row u
        return np.maximum(0, last - first + 1)

    assert ch03.check_coverage(closed_form)
