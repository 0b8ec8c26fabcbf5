"""Every figure the course draws passes the figure linter (tests/course/figure_lint.py), and the linter
itself catches each kind of fault it names (a test of a checker must be able to fail).

Three sources: the ``FIGURES`` registry of every chapter module (figure functions, explorers at their
default settings and at every slider's extremes), the images of ``python -m cnnlib.course.images``,
and every figure a notebook draws (its code cells run in this process, tests/course/notebook_figures.py).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from figure_lint import chapter_figures, count_by_kind, lint
from notebook_figures import figures as notebook_figures

from cnnlib.course import images
from cnnlib.course.images import common as images_common

ROOT = Path(__file__).resolve().parents[2]
CHAPTER_FIGURES = chapter_figures()
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _report(faults):
    return "\n".join(map(str, faults))


@pytest.mark.parametrize("name", list(CHAPTER_FIGURES))
def test_chapter_figure_passes_the_linter(name):
    fig = CHAPTER_FIGURES[name]()
    faults = lint(fig)
    plt.close(fig)
    assert not faults, f"{name}:\n{_report(faults)}"


def test_every_chapter_module_registers_its_figures():
    chapters = {p.stem[:4] for p in (ROOT / "cnnlib" / "course").glob("ch[0-9][0-9]_*.py")}
    registered = {name.split()[0] for name in CHAPTER_FIGURES}
    assert chapters == registered, f"chapter modules without FIGURES: {sorted(chapters - registered)}"


@pytest.mark.parametrize("name", [n for n in images.FIGURES if n.endswith(".png")])
def test_readme_image_passes_the_linter(name, monkeypatch, tmp_path):
    drawn = []

    def keep(fig, path):
        drawn.append(fig)
        return path

    for module in (
        images_common,
        images.gradients,
        images.pooling_training_im2col,
        images.family,
        images.modern,
    ):
        if hasattr(module, "save"):
            monkeypatch.setattr(module, "save", keep)
    with plt.rc_context(images_common.RC):
        images.FIGURES[name](tmp_path / name)
        (fig,) = drawn
        # README images are shown at their own size (GitHub scales the page, not the text): no width rule
        faults = lint(fig, max_width_px=None)
    plt.close("all")
    assert not faults, f"{name}:\n{_report(faults)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_every_figure_of_the_notebook_passes_the_linter(path):
    faults = []
    for index, first_line, fig in notebook_figures(path):
        faults += [f"cell {index} ({first_line[:50]}): {f}" for f in lint(fig)]
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_every_figure_cell_stores_its_figure(path):
    # executed with MPLBACKEND=Agg the kernel shows nothing and the saved notebook loses its PNGs;
    # nbval never compares images, so only this notices
    nb = nbformat.read(path, as_version=4)
    missing = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "plt.show()" in cell.source
        and not any("image/png" in out.get("data", {}) for out in cell.outputs)
    ]
    assert not missing, f"cells {missing} show a figure but store none: re-execute without MPLBACKEND=Agg"


# --- the linter catches what it names -------------------------------------------------------------


def _clean_heatmap(figsize=(4, 3.5), data=None):
    fig, ax = plt.subplots(figsize=figsize)
    im = ax.imshow(np.arange(16.0).reshape(4, 4) / 3 if data is None else data)
    ax.set_xticks(range(4))
    ax.set_yticks(range(4))
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    ax.set_title("a map")
    fig.colorbar(im, ax=ax, label="value", fraction=0.046, pad=0.04)  # as tall as a square image
    fig.tight_layout()
    return fig, ax, im


def _kinds(fig):
    faults = lint(fig)
    plt.close(fig)
    return {k for k, n in count_by_kind(faults).items() if n}


def test_a_clean_figure_passes():
    fig, *_ = _clean_heatmap()
    assert _kinds(fig) == set()


def test_overlapping_texts_are_caught():
    fig, ax, _ = _clean_heatmap()
    ax.text(1, 1, "a label", fontsize=9)
    ax.text(1.2, 1, "another", fontsize=9)
    assert _kinds(fig) == {"overlap"}


def test_text_past_the_canvas_edge_is_caught():
    fig, ax, _ = _clean_heatmap()
    fig.text(0.9, 0.5, "a footnote that runs off the canvas", fontsize=9)
    assert "outside" in _kinds(fig)


def test_a_thin_or_far_colour_bar_is_caught():
    fig, ax = plt.subplots(figsize=(4, 3.5))
    im = ax.imshow(np.arange(12.0).reshape(3, 4) / 3)
    ax.set_xticks(range(4))
    ax.set_yticks(range(3))
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    fig.colorbar(im, ax=ax, fraction=0.01)
    fig.tight_layout()
    assert _kinds(fig) == {"colorbar"}  # 4 px wide
    fig, ax = plt.subplots(figsize=(8, 3.5))
    im = ax.imshow(np.arange(12.0).reshape(3, 4) / 3)
    ax.set_xticks(range(4))
    ax.set_yticks(range(3))
    ax.set_position([0.05, 0.1, 0.3, 0.8])
    ax.set_xlabel("column j")
    ax.set_ylabel("row i")
    fig.colorbar(im, cax=fig.add_axes([0.9, 0.1, 0.03, 0.8]))
    assert _kinds(fig) == {"colorbar"}  # half the canvas away


def test_fractional_ticks_on_integer_data_and_pixel_axes_are_caught():
    fig, ax, im = _clean_heatmap(data=np.array([[0, 1, 2, 1], [1, 0, 1, 2], [2, 1, 0, 1], [1, 1, 1, 1]]))
    assert _kinds(fig) == {"fractional tick"}  # the colour bar's default ticks 0.25, 0.5, ...
    fig, ax, im = _clean_heatmap()
    ax.set_xticks([0, 1.5, 3])
    assert _kinds(fig) == {"fractional tick"}  # a pixel-index axis


def test_an_axis_without_a_label_is_caught():
    fig, ax, _ = _clean_heatmap()
    ax.set_ylabel("")
    assert _kinds(fig) == {"unlabelled axis"}


def test_small_text_and_a_too_wide_figure_are_caught():
    fig, ax, _ = _clean_heatmap()
    ax.set_title("a map", fontsize=8)
    assert _kinds(fig) == {"small text"}
    fig, *_ = _clean_heatmap(figsize=(12, 3.5))
    assert "too wide" in _kinds(fig)
