"""Tests of cnnlib.course.ch00_correlation_and_notation: the correlation-vs-convolution picture,
the kernel-sliding explorer and the output-size and correlate2d checkers."""

from __future__ import annotations

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference
from cnnlib.course import ch00_correlation_and_notation as ch00

RED = np.array([0.98, 0.62, 0.6])


ORANGE = np.array([1.0, 0.85, 0.55])


def _images(ax):
    return [np.asarray(im.get_array()) for im in ax.get_images()]


def _cells(ax, rows):
    """The RGB image of the sliding picture: one pixel per grid cell (the grid is drawn as lines)."""
    img = _images(ax)[0]
    assert img.shape[:2] == (rows, rows)
    return img


def _grid_lines(ax):
    """Number of horizontal and vertical grid lines drawn on ax."""
    (grid,) = ax.collections
    segments = grid.get_segments()
    horizontal = sum(1 for s in segments if s[0][1] == s[1][1])
    return horizontal, len(segments) - horizontal


def test_correlation_vs_convolution_panels_hold_both_operations():
    a = np.array([[1, 2, 0], [0, 1, 2], [2, 0, 1]])
    k = np.array([[1, 0], [-1, 2]])
    fig = ch00.correlation_vs_convolution(a, k, out_index=(1, 0))
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert len(panels) == 6
    np.testing.assert_array_equal(_images(panels[1])[0], k)
    np.testing.assert_array_equal(_images(panels[4])[0], k[::-1, ::-1])
    np.testing.assert_array_equal(_images(panels[2])[0], reference.correlate2d(a, k))
    np.testing.assert_array_equal(_images(panels[5])[0], reference.convolve2d(a, k))
    # the window of output (1, 0) is labelled with the kernel entry each input meets
    labels0 = {t.get_text() for t in panels[0].texts}
    labels1 = {t.get_text() for t in panels[3].texts}
    assert labels0 == {"0×1", "1×0", "2×-1", "0×2"}
    assert labels1 == {"0×2", "1×-1", "2×0", "0×1"}


def test_correlation_vs_convolution_rejects_an_index_outside_the_output():
    with pytest.raises(ValueError, match="2x2 output"):
        ch00.correlation_vs_convolution(np.ones((3, 3)), np.ones((2, 2)), out_index=(2, 0))


@pytest.mark.parametrize(
    "n, k, s, p",
    [(5, 3, 1, 0), (6, 3, 2, 0), (7, 3, 2, 1), (6, 2, 3, 2), (9, 4, 2, 3), (4, 4, 1, 0), (5, 1, 3, 0)],
)
def test_sliding_window_picture_matches_the_output_size(n, k, s, p):
    fig, update = ch00.sliding_window_explorer()
    state = update(input_size=n, kernel_size=k, stride=s, padding=p, row=99, col=0)
    Ho = cl.conv_output_size(n, k, s, p)
    assert state["Ho"] == Ho and (state["row"], state["col"]) == (Ho - 1, 0)  # clamped to the last row
    npad = n + 2 * p
    img_in, img_out = _cells(fig.axes[0], npad), _cells(fig.axes[1], Ho)
    # every cell border is a line: npad + 1 lines each way on the input, Ho + 1 on the output
    assert _grid_lines(fig.axes[0]) == (npad + 1, npad + 1)
    assert _grid_lines(fig.axes[1]) == (Ho + 1, Ho + 1)
    assert img_in.shape == (npad, npad, 3) and img_out.shape == (Ho, Ho, 3)
    window = np.all(np.isclose(img_in, RED), axis=-1)
    rows, cols = np.nonzero(window)
    assert window.sum() == k * k
    assert (rows.min(), cols.min()) == ((Ho - 1) * s, 0)
    never = np.all(np.isclose(img_in, ORANGE), axis=-1)
    # never read: padded rows (and columns) that no window covers, gaps between windows included
    read = np.zeros(npad, dtype=bool)
    for i in range(Ho):
        read[i * s : i * s + k] = True
    assert state["never_read"] == np.count_nonzero(~read)
    assert never.sum() == npad * npad - read.sum() ** 2
    assert np.all(np.isclose(img_out, RED), axis=-1).sum() == 1
    assert "clamped" in fig.axes[0].get_title()


def test_sliding_window_explorer_reuses_its_artists_and_handles_a_too_large_kernel():
    fig, update = ch00.sliding_window_explorer(5, 3, 1, 0)
    n_axes, images = len(fig.axes), [id(im) for ax in fig.axes for im in ax.get_images()]
    for settings in [
        dict(input_size=8, kernel_size=2, stride=3, padding=1, row=1, col=2),
        dict(kernel_size=11),
    ]:
        state = update(**settings)
    assert state["Ho"] == 0 and state["kernel_size"] == 11 and state["input_size"] == 8
    assert "larger than the padded input" in fig.texts[0].get_text()
    assert len(fig.axes) == n_axes
    assert [id(im) for ax in fig.axes for im in ax.get_images()] == images


def _strided_correlate2d_loops(a, k, s, p):
    # the definition, written independently of the checker's oracle (cnnlib.conv2d_forward)
    ap = np.pad(a, p)
    (kh, kw), Ho, Wo = k.shape, (ap.shape[0] - k.shape[0]) // s + 1, (ap.shape[1] - k.shape[1]) // s + 1
    rows = [[np.sum(ap[i * s : i * s + kh, j * s : j * s + kw] * k) for j in range(Wo)] for i in range(Ho)]
    return np.array(rows)


def test_strided_correlation_checker_accepts_the_definition_and_names_each_planted_bug(capsys):
    assert ch00.check_strided_correlate2d(_strided_correlate2d_loops)
    assert "correct on all 4 cases" in capsys.readouterr().out
    bugs = ("flip", "stride", "height-width")
    for flags in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 1, 1)]:

        def buggy(a, k, s, p, flags=flags):  # the notebook's planted loops with some bugs left
            (H, W), (kh, kw) = a.shape, k.shape
            ap = np.pad(a, p)
            Wo = (H + 2 * p - kh) // s + 1 if flags[2] else (W + 2 * p - kw) // s + 1
            step = 1 if flags[1] else s
            kk = k[::-1, ::-1] if flags[0] else k
            Ho = (H + 2 * p - kh) // s + 1
            return np.array(
                [[np.sum(ap[i * step : i * step + kh, j * step : j * step + kw] * kk) for j in range(Wo)]
                 for i in range(Ho)]
            )  # fmt: skip

        verdict = ch00.check_strided_correlate2d(buggy)
        assert not verdict and set(verdict.bugs) == {b for b, f in zip(bugs, flags, strict=True) if f}
    assert not ch00.check_strided_correlate2d(lambda a, k, s, p: None)
    assert "not implemented" in capsys.readouterr().out


def test_same_padding_checker_accepts_a_search_and_names_each_wrong_attempt(capsys):
    def by_search(n, k, s):  # the least P by trying, a route other than the checker's
        return next(P for P in range(n + k) if (n + P - k) // s + 1 == -(-n // s) and n + P >= k)

    assert ch00.check_same_padding(by_search)
    assert "correct on all 8 cases" in capsys.readouterr().out
    ceil = lambda n, s: -(-n // s)  # noqa: E731
    for wrong, bug in [
        (lambda n, k, s: k - 1, "stride"),
        (lambda n, k, s: max(k - s, 0), "divisible"),
        (lambda n, k, s: max((n // s - 1) * s + k - n, 0), "floor"),
        (lambda n, k, s: (ceil(n, s) - 1) * s + k - n, "negative"),
    ]:
        verdict = ch00.check_same_padding(wrong)
        assert not verdict and verdict.bugs == (bug,)
    assert not ch00.check_same_padding(lambda n, k, s: None)


def test_a_find_the_bug_checker_with_diagnose_false_shows_verdicts_but_names_no_bug(capsys):
    def flipped(a, k, s, p):
        return _strided_correlate2d_loops(a, k[::-1, ::-1], s, p)

    verdict = ch00.check_strided_correlate2d(flipped, diagnose=False)
    out = capsys.readouterr().out
    assert not verdict and verdict.bugs == () and "FAIL" in out and "Likely bug" not in out
    assert ch00.check_strided_correlate2d(flipped).bugs == ("flip",)
    assert "Likely bug: flip" in capsys.readouterr().out
