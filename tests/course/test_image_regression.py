"""Image regression: a chapter figure cannot change unseen.

Every figure of the chapter registries (the ``FIGURES`` of each ``cnnlib/course/chNN_*.py``; explorers at
the notebook's settings, not at the slider extremes the linter also draws) is drawn at ``DPI`` and compared
with its baseline in tests/course/baseline_images/ by matplotlib's own
``matplotlib.testing.compare.compare_images``: the root-mean-square difference of the pixel values (0-255)
must stay below ``TOL``. Never bytes or hashes: PNGs differ across machines. The two tests at the end show
that ``TOL`` still catches a label moved by one pixel and a changed colour limit.

After a deliberate change of a figure, regenerate the baselines (all, or some by name) and look at them:

    python tests/course/test_image_regression.py                       # every chapter figure
    python tests/course/test_image_regression.py "ch05 channel grid"   # just these

A new chapter module's figures need baselines too (the test names the command when one is missing).
Marked ``image_regression``: ``pytest -m "not image_regression"`` leaves them out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # run as a script too
from figure_lint import chapter_figures  # noqa: E402

pytestmark = pytest.mark.image_regression

BASELINES = Path(__file__).parent / "baseline_images"
DPI = 50  # small baselines (about 25 KB each); a one-pixel shift of a label still costs RMS > 2.5 here
TOL = 1.0  # RMS of 0-255 pixel values: the same figure redrawn gives 0
FIGURES = {name: make for name, make in chapter_figures().items() if "," not in name}
REGENERATE = f"python {Path(__file__).relative_to(Path(__file__).parents[2])}"


def baseline(name):
    return BASELINES / (name.replace(" ", "_").replace("/", "_") + ".png")


def draw(name, path, change=None):
    """Draw figure ``name`` into ``path`` at DPI; ``change(fig)`` first alters it (the tests of TOL)."""
    with plt.rc_context({"savefig.dpi": DPI}):
        fig = FIGURES[name]()
        if change is not None:
            change(fig)
        fig.savefig(path, dpi=DPI, metadata={"Software": None})
        plt.close(fig)
    return path


def rms(name, actual):
    """RMS difference from the baseline (0.0 if identical)."""
    result = compare_images(str(baseline(name)), str(actual), tol=0, in_decorator=True)
    return 0.0 if result is None else result["rms"]


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_matches_its_baseline(name, tmp_path):
    assert baseline(name).exists(), f"no baseline for {name!r}: run `{REGENERATE} {name!r}` and look at it"
    actual = draw(name, tmp_path / baseline(name).name)
    result = compare_images(str(baseline(name)), str(actual), tol=TOL, in_decorator=True)
    assert result is None, (
        f"{name!r} changed: RMS {result['rms']:.2f} > {TOL} (diff image: {result['diff']}). "
        f"If the change is deliberate: `{REGENERATE} {name!r}`, look at the new PNG, commit it."
    )


def test_every_baseline_belongs_to_a_figure():
    stale = {p.name for p in BASELINES.glob("*.png")} - {baseline(name).name for name in FIGURES}
    assert not stale, f"baselines of figures that no longer exist (delete them): {sorted(stale)}"


def _shift_first_title(fig):
    title = fig.axes[0].title
    title.set_transform(title.get_transform() + ScaledTranslation(1 / DPI, 0, fig.dpi_scale_trans))


def _raise_first_colour_limit(fig):
    image = next(im for ax in fig.axes for im in ax.get_images() if im.get_array().ndim == 2)
    lo, hi = image.get_clim()
    image.set_clim(lo, hi * 1.2)


# the figures whose baseline is least sensitive: a small title among many panels, a small map
@pytest.mark.parametrize(
    "name", ["ch05 channel grid", "ch01 two-layer figure", "ch07 true and learned kernels"]
)
def test_tolerance_catches_a_label_moved_by_one_pixel(name, tmp_path):
    assert rms(name, draw(name, tmp_path / "same.png")) <= TOL
    assert rms(name, draw(name, tmp_path / "moved.png", _shift_first_title)) > TOL


@pytest.mark.parametrize(
    "name", ["ch05 channel grid", "ch01 two-layer figure", "ch07 true and learned kernels"]
)
def test_tolerance_catches_a_changed_colour_limit(name, tmp_path):
    assert rms(name, draw(name, tmp_path / "changed.png", _raise_first_colour_limit)) > TOL


if __name__ == "__main__":
    BASELINES.mkdir(exist_ok=True)
    for name in sys.argv[1:] or FIGURES:
        print(draw(name, baseline(name)))
