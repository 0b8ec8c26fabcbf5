"""check.batchnorm_backward: right look-alike implementations pass (none of them cnnlib's own
oracle), each planted bug fails with its stable id, and the conventions' rules hold."""

from __future__ import annotations

import numpy as np
import pytest
from learner_impls import batchnorm_style as bs

import cnnlib as cl
from cnnlib import check


def test_right_implementations_pass():
    forward, backward = bs.make_spatial_batchnorm()
    for report in (
        check.batchnorm_backward(backward, "cs231n", forward=forward),
        check.batchnorm_backward(bs.make_cnnlib_backward()),
        check.batchnorm_backward(bs.cnnlib_style_backward, forward=bs.cnnlib_style_forward),
        check.batchnorm_backward(
            lambda dy, cache: cl.reference.batchnorm2d_backward(dy, cache),
            forward=cl.reference.batchnorm2d_forward,
        ),  # fmt: skip
    ):
        assert report, str(report)
        assert report.bugs == () and report.diagnosis == []
        assert len(report.cases) == len(check.BATCHNORM_CASES)
        assert "PASSED, 6 of 6 cases pass" in str(report)


CS231N_BUGS = [
    ("reshape", "bn-axes"),
    ("per_pixel", "bn-axes"),
    ("unbiased", "bn-unbiased"),
    ("gamma_twice", "bn-gamma"),
    ("no_gamma", "bn-gamma"),
    ("no_mean_path", "bn-mean-path"),
    ("no_var_path", "bn-var-path"),
    ("dbeta_mean", "bn-sum-axes"),
    ("dgamma_over_n", "bn-sum-axes"),
]
CNNLIB_BUGS = [
    ("dgamma_times_gamma", ("bn-gamma",)),
    ("keepdims", ("bn-sum-axes",)),
    ("unbiased", ("bn-unbiased",)),
    ("statistics_constant", ("bn-mean-path", "bn-var-path")),
    ("zeros", ("zeros",)),
]


@pytest.mark.parametrize(("bug", "bug_id"), CS231N_BUGS)
def test_cs231n_planted_bugs_are_named(bug, bug_id):
    forward, backward = bs.make_spatial_batchnorm(bug)
    report = check.batchnorm_backward(backward, "cs231n", forward=forward)
    assert not report
    assert report.bugs == (bug_id,), str(report)
    assert set(report.bugs) <= set(check.BUG_IDS)
    assert "Diagnosis:" in str(report)


@pytest.mark.parametrize(("bug", "bug_ids"), CNNLIB_BUGS)
def test_cnnlib_planted_bugs_are_named(bug, bug_ids):
    report = check.batchnorm_backward(bs.make_cnnlib_backward(bug))
    assert not report and report.bugs == bug_ids, str(report)


def test_the_wrong_axes_are_said_in_words():
    forward, backward = bs.make_spatial_batchnorm("reshape")
    report = check.batchnorm_backward(backward, "cs231n", forward=forward)
    assert "x.reshape(-1, C) mixes channels" in report.diagnosis[0]
    assert "out" in report.cases[0].wrong or "y" in report.cases[0].wrong  # the forward is checked too


def test_an_unexplained_bug_is_unknown_and_exceptions_are_reported():
    report = check.batchnorm_backward(
        lambda dy, cache: tuple(2.5 * g for g in cl.batchnorm2d_backward(dy, cache))
    )
    assert not report and report.bugs == ("constant-factor",)
    report = check.batchnorm_backward(
        lambda dy, cache: (*cl.batchnorm2d_backward(dy, cache)[:2], dy.sum(axis=(0, 2)))
    )
    assert not report and report.bugs == ("bn-sum-axes",)
    assert "summed over N, H only (shape (C, W))" in str(report)

    def scrambled(dy, cache):
        dx, dgamma, dbeta = cl.batchnorm2d_backward(dy, cache)
        return dx[::-1], dgamma, dbeta

    report = check.batchnorm_backward(scrambled)
    assert not report and report.bugs == ("unknown",)

    def raises(dy, cache):
        return np.zeros((2, 2))[5]

    report = check.batchnorm_backward(raises)
    assert not report and report.bugs == ("exception",)
    assert "raised IndexError" in str(report)

    report = check.batchnorm_backward(lambda dy, cache: None)
    assert not report and report.bugs == ("return",)
    report = check.batchnorm_backward(lambda dy, cache: (None, None, None))
    assert not report and "stub" in str(report)


def test_float32_answers_are_compared_at_float32_precision():
    def backward32(dy, cache):
        return tuple(g.astype(np.float32) for g in cl.batchnorm2d_backward(dy, cache))

    assert check.batchnorm_backward(backward32)


def test_convention_rules():
    forward, backward = bs.make_spatial_batchnorm()
    with pytest.raises(ValueError, match=r"'cs231n' convention needs forward=spatial_batchnorm_forward"):
        check.batchnorm_backward(backward, "cs231n")
    with pytest.raises(ValueError, match=r"'coursera' convention has no batch norm"):
        check.batchnorm_backward(backward, "coursera")
    with pytest.raises(ValueError, match=r"convention must be 'cnnlib' or 'cs231n'"):
        check.batchnorm_backward(backward, "keras")
    with pytest.raises(TypeError, match=r"fn must be a function"):
        check.batchnorm_backward(None)
    with pytest.raises(TypeError, match=r"forward must be a function or None"):
        check.batchnorm_backward(backward, "cs231n", forward=3)
    with pytest.raises(TypeError, match=r"cases must hold BatchNormCase"):
        check.batchnorm_backward(backward, "cs231n", forward=forward, cases=[check.CONV_CASES[0]])


def test_the_learners_inputs_are_their_own_copies():
    """A backward that scribbles on dy cannot change the next case or the expected answer."""

    def scribbles(dy, cache):
        out = cl.batchnorm2d_backward(dy, cache)
        dy[...] = 0
        return out

    assert check.batchnorm_backward(scribbles)
