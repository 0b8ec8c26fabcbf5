"""What the explorers share: the slider wiring and the redraw timing.

Pattern (fast redraws): build the figure ONCE, keep its artists, and on every slider
move only update them (``AxesImage.set_data``, ``set_clim``, ``set_text``, ...) before
the inline backend renders the same figure again. Rebuilding a figure with colour bars
costs several times more than updating it.

    fig, update = my_figure()          # builds artists, returns an update(**params) function
    update(stride=2, padding=1)        # a plain call: the figure nbval stores and checks
    explore(fig, update, stride=(1, 3), padding=(0, 3))   # the sliders (output not compared)

``redraw_ms`` measures what one slider move costs in the kernel: update + PNG render.
"""

from __future__ import annotations

import io
import time

import matplotlib.pyplot as plt
import numpy as np


def render_png(fig) -> bytes:
    """Render ``fig`` to PNG bytes the way the inline backend does (what a redraw costs)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def redraw_ms(fig, update, settings, repeats=3):
    """Median time in milliseconds of update(**s) + PNG render over the given settings.

    Parameters
    ----------
    fig : matplotlib Figure
    update : callable(**params)
    settings : list of dict
        Slider positions to cycle through (each is timed ``repeats`` times).
    """
    times = []
    for _ in range(repeats):
        for s in settings:
            t0 = time.perf_counter()
            update(**s)
            render_png(fig)
            times.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(times))


def explore(fig, update, **sliders):
    """Show ``fig`` with sliders; moving one calls update(**values) and shows the figure again.

    Parameters
    ----------
    fig : matplotlib Figure
        Built once; it is closed for pyplot so the inline backend does not show it twice.
    update : callable(**params)
        Changes the figure's artists in place.
    **sliders
        ipywidgets widgets or interact abbreviations: (min, max), (min, max, step), list.

    Returns
    -------
    ipywidgets.interactive
        Displayed by the notebook (assign it, or let it be the cell's last value).
    """
    import ipywidgets as widgets
    from IPython.display import display

    plt.close(fig)

    def show(**params):
        update(**params)
        display(fig)

    ui = widgets.interactive(show, **sliders)
    ui.layout = widgets.Layout(width="100%")
    return ui
