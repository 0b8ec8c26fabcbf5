"""cnnlib.check: the report, argument errors, exceptions, skipped cases, caches, tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import check
from cnnlib.check import ConvCase, PoolCase


def einsum_backward(dy, x, w, stride, padding):
    """A correct NCHW backward (square stride and padding only), independent of cnnlib."""
    s, p = (stride, padding) if np.isscalar(stride) and np.isscalar(padding) else (None, None)
    if s is None:
        raise NotImplementedError("pairs")
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    kh, kw = w.shape[2:]
    Ho, Wo = dy.shape[2:]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, :, i * s : i * s + kh, j * s : j * s + kw]
            dw += np.einsum("nd,ncmk->dcmk", dy[:, :, i, j], win)
            dxp[:, :, i * s : i * s + kh, j * s : j * s + kw] += np.einsum("nd,dcmk->ncmk", dy[:, :, i, j], w)
    return dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]], dw, dy.sum(axis=(0, 2, 3))


def test_report_fields_and_printing():
    report = check.conv_backward(einsum_backward)
    assert report.passed  # the pair-stride cases raise NotImplementedError on purpose: refused
    verdicts = [c.verdict for c in report.cases]
    assert verdicts.count("refused") == 2 and verdicts.count("pass") == len(verdicts) - 2
    assert report.refused == {"(h, w) pairs of stride, padding or window": [8, 9]}
    case = report.cases[0]
    assert case.shapes == {"x": (2, 3, 5, 5), "w": (2, 3, 3, 3)}
    assert case.stride == (1, 1) and case.padding == (0, 0) and case.size is None
    assert case.max_error is not None and case.max_error < 1e-12
    err = next(c for c in report.cases if c.verdict == "refused")
    assert "NotImplementedError" in err.message and err.max_error is None
    text = str(report)
    assert "7 of 9 cases pass (2 refused)" in text and "NotImplementedError" in text
    assert "Your code refuses (h, w) pairs" in text.splitlines()[1]
    assert repr(report) == text
    for c in report.cases:
        assert f"{c.number}  " in text
    assert report.diagnosis == [] and report.bugs == ()


def test_pretty_repr_for_notebooks():
    report = check.conv_backward(einsum_backward)

    class Printer:
        def __init__(self):
            self.out = ""

        def text(self, s):
            self.out += s

    p = Printer()
    report._repr_pretty_(p, cycle=False)
    assert p.out == str(report)


def test_first_wrong_entry_is_reported():
    def off_by_one(dy, x, w, stride, padding):
        dx, dw, db = einsum_backward(dy, x, w, stride, padding)
        dx = dx.copy()
        dx[0, 1, 2, 3] += 1.0
        return dx, dw, db

    report = check.conv_backward(off_by_one, cases=[ConvCase(2, 3, 2, 5, 5, 3, 3, 1, 0, seed=1)])
    fw = report.cases[0].first_wrong
    assert fw.output == "dx" and fw.index == (0, 1, 2, 3)
    assert fw.got == pytest.approx(fw.expected + 1.0)
    assert "first wrong entry (case 1): dx[0, 1, 2, 3]" in str(report)
    assert report.diagnosis


def test_learner_exception_is_reported_not_raised():
    def broken(dy, x, w, stride, padding):
        raise ZeroDivisionError("oops")

    report = check.conv_backward(broken)
    assert not report and all(c.verdict == "error" for c in report.cases)
    assert "ZeroDivisionError" in report.diagnosis[0] and "every case" in report.diagnosis[0]


def test_wrong_signature_names_the_expected_call():
    report = check.conv_backward(lambda dy, cache: None)
    assert not report
    assert "fn(dy, x, w, stride, padding)" in " ".join(report.diagnosis) and "signature" in report.bugs


def test_stub_returning_none_fails():
    report = check.maxpool_backward(lambda dy, x, size, stride: None)
    assert not report and all(c.verdict == "fail" for c in report.cases)
    assert "None" in report.cases[0].message


def test_cs231n_has_no_average_pooling():
    with pytest.raises(ValueError, match="no avgpool backward"):
        check.avgpool_backward(lambda dout, cache: None, convention="cs231n")


def test_bad_arguments_to_the_checker():
    with pytest.raises(ValueError, match="unknown convention 'pytorch'"):
        check.conv_backward(einsum_backward, convention="pytorch")
    with pytest.raises(TypeError, match="convention must be a string"):
        check.conv_backward(einsum_backward, convention=3)
    with pytest.raises(TypeError, match="fn must be a function"):
        check.conv_backward("conv_backward")
    with pytest.raises(ValueError, match="forward= is used only"):
        check.conv_backward(einsum_backward, forward=einsum_backward)
    with pytest.raises(TypeError, match="forward must be a function"):
        check.conv_backward(einsum_backward, convention="cs231n", forward=1)
    with pytest.raises(TypeError, match="ConvCase"):
        check.conv_backward(einsum_backward, cases=[PoolCase(1, 1, 4, 4)])


def test_forward_none_builds_the_documented_caches():
    seen = {}

    def cs231n_bwd(dout, cache):
        x, w, b, conv_param = cache
        seen["cs231n"] = (x.shape, w.shape, b.shape, sorted(conv_param))
        return einsum_backward(dout, x, w, conv_param["stride"], conv_param["pad"])

    def coursera_pool_bwd(dA, cache, mode):
        A_prev, hp = cache
        seen["coursera"] = (A_prev.shape, sorted(hp), mode)
        return np.zeros_like(A_prev)

    case = ConvCase(2, 3, 4, 5, 6, 3, 3, 2, 1, seed=3)
    assert check.conv_backward(cs231n_bwd, "cs231n", cases=[case])
    assert seen["cs231n"] == ((2, 3, 5, 6), (4, 3, 3, 3), (4,), ["pad", "stride"])
    check.avgpool_backward(coursera_pool_bwd, "coursera", cases=[PoolCase(2, 3, 4, 6, 2)])
    assert seen["coursera"] == ((2, 4, 6, 3), ["f", "stride"], "average")


def test_forward_is_called_to_make_the_cache():
    calls = []

    def fwd(x, w, b, conv_param):
        calls.append(conv_param)
        return None, ("mine", x, w, b, conv_param)

    def bwd(dout, cache):
        assert cache[0] == "mine"
        _, x, w, b, cp = cache
        return einsum_backward(dout, x, w, cp["stride"], cp["pad"])

    assert check.conv_backward(bwd, "cs231n", forward=fwd)
    assert calls and calls[0] == {"stride": 1, "pad": 0}


def test_cases_the_convention_cannot_express_are_skipped():
    pair = ConvCase(1, 2, 2, 5, 6, 3, 2, (2, 1), (1, 0), seed=4)
    square = ConvCase(1, 2, 2, 5, 5, 3, 3, 1, 1, seed=5)
    report = check.conv_backward(lambda dZ, cache: None, "coursera", cases=[pair])
    assert [c.verdict for c in report.cases] == ["skipped"]
    assert "f x f" in report.cases[0].message
    assert not report.passed  # nothing ran
    report = check.conv_backward(einsum_backward, "cnnlib", cases=[pair, square])
    assert [c.verdict for c in report.cases] == ["refused", "pass"]
    report = check.maxpool_backward(lambda d, c: None, "cs231n", cases=[PoolCase(1, 1, 6, 6, 2, (2, 1))])
    assert report.cases[0].verdict == "skipped" and "one int stride" in report.cases[0].message
    assert "skipped" in report.tally


def test_float32_answers_pass_at_float32_precision_with_a_note():
    def f32(dy, x, w, stride, padding):
        return tuple(a.astype(np.float32) for a in einsum_backward(dy, x, w, stride, padding))

    report = check.conv_backward(f32, cases=check.CONV_CASES[:6])
    assert report.passed
    assert any("float64" in n for n in report.notes)

    def f64_rounded_to_f32(dy, x, w, stride, padding):  # float32 rounding returned as float64
        return tuple(
            a.astype(np.float32).astype(np.float64) for a in einsum_backward(dy, x, w, stride, padding)
        )

    report = check.conv_backward(f64_rounded_to_f32, cases=check.CONV_CASES[:6])
    assert not report.passed and "float32" in report.bugs


def test_modifying_the_input_is_noted():
    def in_place(dy, x, w, stride, padding):
        out = einsum_backward(dy, x, w, stride, padding)
        x *= 0
        return out

    report = check.conv_backward(in_place, cases=check.CONV_CASES[:1])
    assert "modified its input x" in report.cases[0].message


def test_cases_are_deterministic_and_hold_ties():
    a, b = check.POOL_CASES[0].arrays(), check.POOL_CASES[0].arrays()
    assert np.array_equal(a["x"], b["x"])
    x = a["x"]
    wins = x.reshape(2, 3, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 2, 4)
    assert ((wins == wins.max(-1, keepdims=True)).sum(-1) > 1).any()


def test_default_cases_cover_what_the_issue_asks():
    conv = check.CONV_CASES
    assert any(c.N > 1 and c.C > 1 and c.C != c.D for c in conv)
    assert any(c.stride == (3, 3) for c in conv) and any(c.padding == (0, 0) for c in conv)
    assert any(c.padding in ((1, 1), (2, 2)) for c in conv)
    assert any(c.features()["rows no window reaches"] for c in conv)
    assert any(c.features()["stride > kernel"] for c in conv)
    assert any(c.kh != c.kw for c in conv) and any(c.H != c.W for c in conv)
    pool = check.POOL_CASES
    assert any(p.overlapping for p in pool) and any(p.ties and not p.overlapping for p in pool)
