"""The explorer contract, for every explorer of the course: ``explorer(...) -> (fig, update)``,
``update(**settings) -> dict`` of what it drew, the same setting names for the same idea in every
chapter, and an output that shows the figure (not the widget's text) before the kernel runs.

The redraw time of each explorer is printed (``pytest -s``), never asserted: it depends on the machine.
"""

from __future__ import annotations

import base64
import inspect
import io

import numpy as np
import pytest

from cnnlib.course import ch00_correlation_and_notation as ch00
from cnnlib.course import ch01_single_kernel as ch01
from cnnlib.course import ch02_multi_kernel as ch02
from cnnlib.course import ch03_stride as ch03
from cnnlib.course import ch04_padding as ch04
from cnnlib.course import ch05_pooling_and_a_full_cnn as ch05
from cnnlib.course import ch06_debugging_backprop as ch06
from cnnlib.course import ch07_fast_convolution as ch07
from cnnlib.course import ch09_the_modern_block as ch09
from cnnlib.course.explore import HINT, Redraw, explore, redraw_ms, render_png

rng = np.random.default_rng(0)
# name -> (build the explorer, two slider positions as the notebook's sliders give them)
EXPLORERS = {
    "ch00 sliding window": (
        lambda: ch00.sliding_window_explorer(7, 3, 2, 1),
        [
            dict(input_size=8, kernel_size=3, stride=2, padding=1, row=1, col=2),
            dict(kernel_size=5, row=0, col=0),
        ],
    ),
    "ch01 backward accumulation": (
        lambda: ch01.backward_accumulation_explorer(np.ones((4, 4)), np.ones((2, 2)), np.ones((3, 3))),
        [dict(step=1), dict(step=9)],
    ),
    "ch02 delta spike": (
        lambda: ch02.delta_spike_explorer(rng.standard_normal((2, 6, 6)), rng.standard_normal((3, 2, 3, 3))),
        [dict(kernel=0, row=0, col=0), dict(kernel=2, row=3, col=1)],
    ),
    "ch03 stride": (
        lambda: ch03.stride_explorer(seed=0),
        [
            dict(input_size=8, kernel_size=3, stride=2, padding=1, row=1, col=1),
            dict(input_size=12, kernel_size=5, stride=3, padding=2),
        ],
    ),
    "ch04 padding": (
        lambda: ch04.padding_explorer(input_size=7, seed=0),
        [dict(stride=2, padding=1, kernel_size=3), dict(stride=3, padding=2, kernel_size=5)],
    ),
    "ch05 pool routing": (
        lambda: ch05.pool_routing_explorer(np.arange(36.0).reshape(6, 6), size=3, stride=2),
        [dict(size=2, stride=2), dict(size=3, stride=1)],
    ),
    "ch06 step size": (
        lambda: ch06.step_size_explorer(np.array([1.0, 3.0, 50.0]), np.array([0.5, -0.2, 0.1]), steps=100),
        [dict(ratio=0.8), dict(ratio=1.2)],
    ),
    "ch07 dilated delta": (
        lambda: ch07.dilated_delta_explorer(Ho=4, max_stride=4, seed=0),
        [dict(stride=2, kernel_size=3), dict(stride=3, kernel_size=5)],
    ),
    "ch09 depth": (
        lambda: ch09.depth_explorer(
            {
                (kind, depth): {"init": np.geomspace(1e-3, 1, depth + 1), "trained": np.ones(depth + 1)}
                for kind in ch09.KINDS
                for depth in (2, 4, 8)
            }
        ),
        [dict(depth=2), dict(depth=8)],
    ),
}
# the shared vocabulary: a setting that means one of these ideas must use this name
SHARED = {"input_size", "kernel_size", "stride", "padding", "row", "col"}
# ideas one chapter has alone (kernel index d, pool size, η ratio, number of blocks)
OWN = {"step", "kernel", "size", "ratio", "depth"}


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_every_explorer_keeps_the_contract(name):
    build, positions = EXPLORERS[name]
    fig, update = build()
    n_artists = [len(ax.get_children()) for ax in fig.axes]
    params = set(inspect.signature(update).parameters)
    assert params <= SHARED | OWN, f"{name}: settings outside the shared vocabulary: {params - SHARED - OWN}"
    for settings in positions:
        drawn = update(**settings)
        assert isinstance(drawn, dict), f"{name}: update returned {type(drawn).__name__}, not a dict"
        # what it drew includes the settings it was given (row/col may come back clamped)
        for key, value in settings.items():
            if key not in ("row", "col"):
                assert drawn[key] == value, (name, key, drawn[key], value)
    assert [len(ax.get_children()) for ax in fig.axes] == n_artists, f"{name}: a redraw added artists"
    print(f"\n{name}: redraw {redraw_ms(fig, update, positions, repeats=3):.0f} ms (update + PNG render)")


# explorers that redraw only what changes (explore.changes_only): every slider position a learner can reach
EVERY_POSITION = {
    "ch01 backward accumulation": [dict(step=t) for t in (*range(10), 3)],
    "ch05 pool routing": [dict(size=k, stride=s) for k in range(1, 5) for s in range(1, 5)],
}


def pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


@pytest.mark.parametrize("name", list(EXPLORERS))
def test_a_slider_move_draws_what_a_full_drawing_draws(name):
    # a redraw of the changing artists over the figure drawn once must be the figure, pixel for pixel
    build, positions = EXPLORERS[name]
    fig, update = build()
    redraw = Redraw(fig, update)
    for settings in EVERY_POSITION.get(name, positions + positions[::-1]):
        moved = pixels(redraw(**settings))
        np.testing.assert_array_equal(moved, pixels(render_png(fig)), err_msg=f"{name} at {settings}")
    if name in EVERY_POSITION:
        assert redraw.changing, f"{name}: expected to redraw only what changes"


def test_an_explorer_shows_its_figure_and_a_hint_before_the_kernel_runs():
    fig, update = ch03.stride_explorer(seed=0)
    update(input_size=8, kernel_size=3, stride=2, padding=1)
    bundle = explore(fig, update, stride=(1, 4))._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # with a kernel: the sliders
    assert bundle["text/plain"] == HINT  # never "interactive(children=(IntSlider(..."
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"  # without: the figure
