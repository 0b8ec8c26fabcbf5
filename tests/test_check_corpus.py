"""cnnlib.check on a corpus of look-alike learner implementations (tests/learner_impls).

Correct implementations, written by routes other than cnnlib's, must pass in every
convention with an empty diagnosis; each planted bug must fail and be named by its id
in ``report.bugs``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

from cnnlib import check

sys.path.insert(0, str(Path(__file__).parent))  # the look-alikes live next to the tests

from learner_impls import course_style as cs  # noqa: E402
from learner_impls import coursera_style as co  # noqa: E402
from learner_impls import cs231n_style as s2  # noqa: E402
from learner_impls import subtle_bugs as sb  # noqa: E402

CONV_BWD, CONV_FWD, MAXPOOL, AVGPOOL = (
    check.conv_backward,
    check.conv_forward,
    check.maxpool_backward,
    check.avgpool_backward,
)


def _bug(fn, bug):
    return functools.partial(fn, bug=bug)


# (id, checker, fn, convention, forward)
CORRECT = [
    ("einsum windows", CONV_BWD, cs.conv_backward_einsum, "cnnlib", None),
    ("full correlation with rot180", CONV_BWD, cs.conv_backward_rot180, "cnnlib", None),
    ("scatter loops", CONV_BWD, cs.conv_backward_loops, "cnnlib", None),
    ("float32", CONV_BWD, cs.conv_backward_float32, "cnnlib", None),
    ("namedtuple", CONV_BWD, cs.conv_backward_namedtuple, "cnnlib", None),
    ("forward einsum", CONV_FWD, cs.conv_forward_einsum, "cnnlib", None),
    ("forward loops", CONV_FWD, cs.conv_forward_loops, "cnnlib", None),
    ("maxpool last maximum", MAXPOOL, cs.maxpool_backward_loops, "cnnlib", None),
    ("avgpool by offsets", AVGPOOL, cs.avgpool_backward_vectorised, "cnnlib", None),
    ("cs231n forward", CONV_FWD, s2.conv_forward_naive, "cs231n", None),
    ("cs231n backward", CONV_BWD, s2.make_conv_backward_naive(), "cs231n", s2.conv_forward_naive),
    ("cs231n backward, documented cache", CONV_BWD, s2.make_conv_backward_naive(), "cs231n", None),
    (
        "cs231n extra cache",
        CONV_BWD,
        s2.make_conv_backward_naive(),
        "cs231n",
        s2.conv_forward_naive_extra_cache,
    ),
    ("cs231n maxpool", MAXPOOL, s2.make_max_pool_backward_naive(), "cs231n", s2.max_pool_forward_naive),
    ("coursera forward", CONV_FWD, co.conv_forward, "coursera", None),
    ("coursera backward", CONV_BWD, co.make_conv_backward(), "coursera", co.conv_forward),
    ("coursera backward, documented cache", CONV_BWD, co.make_conv_backward(), "coursera", None),
    ("coursera maxpool", MAXPOOL, co.make_pool_backward(), "coursera", co.pool_forward),
    ("coursera avgpool", AVGPOOL, co.make_pool_backward(), "coursera", co.pool_forward),
    ("coursera avgpool, documented cache", AVGPOOL, co.make_pool_backward(), "coursera", None),
]

# (id, checker, fn, convention, forward, bug: the id (check.BUG_IDS) report.bugs must hold)
BUGGY = [
    ("stride ignored", CONV_BWD, _bug(cs.conv_backward_loops, "stride"), "cnnlib", None, "stride"),
    ("kernel flipped", CONV_BWD, _bug(cs.conv_backward_loops, "flip"), "cnnlib", None, "flip"),
    ("flipped in one axis", CONV_BWD, _bug(cs.conv_backward_loops, "flip_rows"), "cnnlib", None, "flip"),
    ("channels swapped", CONV_BWD, _bug(cs.conv_backward_loops, "channel"), "cnnlib", None, "channel"),
    ("= for +=", CONV_BWD, _bug(cs.conv_backward_loops, "assign"), "cnnlib", None, "accumulate"),
    ("db / N", CONV_BWD, _bug(cs.conv_backward_loops, "db_mean"), "cnnlib", None, "bias"),
    ("db mean", CONV_BWD, _bug(cs.conv_backward_loops, "db_all_mean"), "cnnlib", None, "bias"),
    ("no crop", CONV_BWD, _bug(cs.conv_backward_loops, "no_crop"), "cnnlib", None, "crop"),
    ("crop wrong side", CONV_BWD, _bug(cs.conv_backward_loops, "crop_end"), "cnnlib", None, "crop"),
    ("[p:-p] crop", CONV_BWD, _bug(cs.conv_backward_loops, "crop_neg"), "cnnlib", None, "crop"),
    (
        "kernel kh/kw swapped",
        CONV_BWD,
        _bug(cs.conv_backward_loops, "kernel_hw"),
        "cnnlib",
        None,
        "height-width",
    ),
    ("Ho/Wo swapped", CONV_BWD, cs.conv_backward_hw_swapped, "cnnlib", None, "height-width"),
    ("forward flips", CONV_FWD, _bug(cs.conv_forward_loops, "flip"), "cnnlib", None, "flip"),
    ("forward stride", CONV_FWD, _bug(cs.conv_forward_loops, "stride"), "cnnlib", None, "stride"),
    ("forward no bias", CONV_FWD, _bug(cs.conv_forward_loops, "no_bias"), "cnnlib", None, "bias"),
    ("maxpool ties", MAXPOOL, _bug(cs.maxpool_backward_loops, "ties"), "cnnlib", None, "tie"),
    ("maxpool stride", MAXPOOL, _bug(cs.maxpool_backward_loops, "stride"), "cnnlib", None, "stride"),
    ("maxpool =", MAXPOOL, _bug(cs.maxpool_backward_loops, "assign"), "cnnlib", None, "accumulate"),
    (
        "avgpool kh*kh",
        AVGPOOL,
        _bug(cs.avgpool_backward_vectorised, "square"),
        "cnnlib",
        None,
        "height-width",
    ),
    ("db per sample", CONV_BWD, cs.conv_backward_db_per_sample, "cnnlib", None, "bias"),
    ("δ not dilated", CONV_BWD, cs.conv_backward_rot180_undilated, "cnnlib", None, "stride"),
    ("coursera channels swapped", CONV_BWD, co.make_conv_backward("channel"), "coursera", None, "channel"),
    (
        "cs231n =",
        CONV_BWD,
        s2.make_conv_backward_naive("assign"),
        "cs231n",
        s2.conv_forward_naive,
        "accumulate",
    ),
    ("cs231n db / N", CONV_BWD, s2.make_conv_backward_naive("db_mean"), "cs231n", None, "bias"),
    ("cs231n dw flipped", CONV_BWD, s2.make_conv_backward_naive("dw_flip"), "cs231n", None, "flip"),
    ("cs231n [pad:-pad]", CONV_BWD, s2.make_conv_backward_naive("crop_neg"), "cs231n", None, "crop"),
    (
        "cs231n ties",
        MAXPOOL,
        s2.make_max_pool_backward_naive("ties"),
        "cs231n",
        s2.max_pool_forward_naive,
        "tie",
    ),
    (
        "cs231n pool_height twice",
        MAXPOOL,
        s2.make_max_pool_backward_naive("hw"),
        "cs231n",
        None,
        "height-width",
    ),
    (
        "coursera copied crop",
        CONV_BWD,
        co.make_conv_backward("copied"),
        "coursera",
        co.conv_forward,
        "crop",
    ),
    ("coursera stride", CONV_BWD, co.make_conv_backward("stride"), "coursera", co.conv_forward, "stride"),
    ("coursera flip", CONV_BWD, co.make_conv_backward("flip"), "coursera", None, "flip"),
    ("coursera db / m", CONV_BWD, co.make_conv_backward("db_mean"), "coursera", None, "bias"),
    ("coursera copied mask", MAXPOOL, co.make_pool_backward("copied"), "coursera", co.pool_forward, "tie"),
    ("coursera maxpool =", MAXPOOL, co.make_pool_backward("assign"), "coursera", None, "accumulate"),
    ("coursera avgpool =", AVGPOOL, co.make_pool_backward("assign"), "coursera", None, "accumulate"),
    # once unnamed or misnamed (issue 23)
    ("rot180 over channel axes", CONV_BWD, sb.rot180_channel_axes, "cnnlib", None, "flip"),
    ("Wo from H", CONV_FWD, sb.forward_wo_from_h, "cnnlib", None, "height-width"),
    (
        "pool column end vs height",
        MAXPOOL,
        sb.make_pool_backward_width_bound(),
        "coursera",
        co.pool_forward,
        "height-width",
    ),
    ("pool dA at corners", MAXPOOL, sb.make_pool_backward_corner(), "coursera", None, "window-index"),
    ("avgpool dA at corners", AVGPOOL, sb.make_pool_backward_corner(), "coursera", None, "window-index"),
    ("all zeros", CONV_BWD, sb.zeros_backward, "cnnlib", None, "zeros"),
    ("dx transposed", CONV_BWD, sb.transposed_dx_backward, "cnnlib", None, "height-width"),
    ("np.empty", CONV_BWD, sb.empty_backward, "cnnlib", None, "nan"),
    ("reused buffer", CONV_BWD, sb.buffer_backward, "cnnlib", None, "buffer"),
]

# bugs whose old wrong names must be gone: (id, the planted bug's entry above, ids it must not carry)
NOT_MISNAMED = {
    "pool dA at corners": {"accumulate", "stride"},
    "all zeros": {"constant-factor", "unknown"},
    "np.empty": {"accumulate", "unknown"},
    "rot180 over channel axes": {"unknown"},
    "Wo from H": {"shape"},
}


@pytest.mark.parametrize(
    ("checker", "fn", "convention", "forward"), [c[1:] for c in CORRECT], ids=[c[0] for c in CORRECT]
)
def test_correct_implementations_pass(checker, fn, convention, forward):
    kwargs = {} if checker is CONV_FWD else {"forward": forward}
    report = checker(fn, convention, **kwargs)
    assert report.passed and bool(report), str(report)
    assert report.diagnosis == [] and report.bugs == ()
    assert all(c.verdict in ("pass", "skipped") for c in report.cases)


@pytest.mark.parametrize(
    ("checker", "fn", "convention", "forward", "bug"), [c[1:] for c in BUGGY], ids=[c[0] for c in BUGGY]
)
def test_planted_bugs_fail_and_are_named(checker, fn, convention, forward, bug):
    kwargs = {} if checker is CONV_FWD else {"forward": forward}
    report = checker(fn, convention, **kwargs)
    assert not report.passed and not bool(report)
    assert report.diagnosis, str(report)
    assert bug in report.bugs, str(report)
    assert set(report.bugs) <= set(check.BUG_IDS)
    name = next(c[0] for c in BUGGY if c[2] is fn)
    assert not set(report.bugs) & NOT_MISNAMED.get(name, set()), str(report)
    assert any(c.verdict in ("fail", "error") for c in report.cases)


def test_copied_coursera_solution_fails_with_both_bugs_named():
    """The widely shared solution: [pad:-pad] crop (empty at p = 0) and the x == max mask."""
    conv = check.conv_backward(co.make_conv_backward("copied"), "coursera", forward=co.conv_forward)
    pool = check.maxpool_backward(co.make_pool_backward("copied"), "coursera", forward=co.pool_forward)
    p0 = [c for c in conv.cases if c.verdict != "skipped" and c.padding == (0, 0)]
    assert p0 and all(c.verdict == "error" for c in p0)
    assert all(c.verdict == "pass" for c in conv.cases if c.verdict != "skipped" and c.padding != (0, 0))
    assert "crop" in conv.bugs and "p = 0" in " ".join(conv.diagnosis)
    ties = [c for c in pool.cases if c.spec.ties and c.verdict != "skipped"]
    assert ties and all(c.verdict == "fail" for c in ties)
    assert "tie" in pool.bugs


def test_an_unknown_bug_names_the_output_the_cases_and_the_first_wrong_entry():
    report = check.conv_backward(cs.conv_backward_noisy)
    assert not report
    assert "unknown" in report.bugs
    text = " ".join(report.diagnosis)
    assert "dx is wrong in every case" in text and "First wrong entry: dx[" in text


def test_odd_return_values_fail_cleanly():
    import numpy as np

    def two(dy, x, w, stride, padding):
        return cs.conv_backward_einsum(dy, x, w, stride, padding)[:2]

    def nan(dy, x, w, stride, padding):
        dx, dw, db = cs.conv_backward_einsum(dy, x, w, stride, padding)
        return dx * np.nan, dw, list(db)

    report = check.conv_backward(two)
    assert not report and "returned 2 values" in report.cases[0].message
    report = check.conv_backward(nan)
    assert not report and all(c.wrong == ("dx",) for c in report.cases)
