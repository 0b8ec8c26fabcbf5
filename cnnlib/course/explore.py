"""The explorer contract, and what every explorer shares.

Every explorer of the course is a function ``explorer(...) -> (fig, update)``:

    fig, update = ch.stride_explorer()                 # builds the figure and its artists ONCE
    drawn = update(input_size=8, kernel_size=3, stride=2, padding=1)   # redraws in place
    explore(fig, update, stride=(1, 4), padding=(0, 3))                # the sliders

``update(**settings)`` changes the artists in place (``set_data``, ``set_clim``,
``set_text``, ...) and returns a dict of what it drew (the settings as used, plus the
numbers the picture shows). Settings have the same name for the same idea in every
chapter: ``input_size``, ``kernel_size``, ``stride``, ``padding``, ``row``, ``col``.
Rebuilding a figure with colour bars costs several times more than updating it, which
is why a redraw fits the 150 ms a slider move may take. In a busy figure most of the cost
is drawing the text (every number, tick label and title) and encoding the PNG: an
explorer whose update changes a few artists only names them (``changes_only``), and a
slider move then draws just those over the rest of the figure, drawn once (``Redraw``).

A plain call of ``update`` with fixed settings is the figure the notebook stores and
nbval checks; ``explore`` adds the sliders (their cell's output is not compared). Before
the kernel runs (a fresh clone: untrusted, no widget state), the explorer's output shows
the figure as an image with a hint instead of the widget's text.
"""

from __future__ import annotations

import base64
import io
import time

import matplotlib.pyplot as plt
import numpy as np

from ..shapes import conv_output_size

HINT = "Run this cell (with the kernel) for the sliders."


def output_size_or_reason(input_size, kernel_size, stride, padding):
    """(Ho, None) along one axis, or (0, reason) when no window fits the padded input.

    What an explorer shows instead of a window when the sliders ask for a kernel larger
    than the padded input: ``conv_output_size``'s own message.
    """
    try:
        return conv_output_size(input_size, kernel_size, stride, padding), None
    except ValueError as err:
        return 0, f"no window fits: {err}"


def render_png(fig) -> bytes:
    """Render ``fig`` to PNG bytes the way the inline backend does (the figure an explorer stores)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def changes_only(update, artists):
    """Declare the artists ``update`` changes, so that a slider move redraws only them.

    ``artists`` in drawing order (back to front): everything any setting can change (data,
    colours, text, visibility, a colour bar's axes when its limits move), plus whatever is
    drawn over them where they overlap (e.g. the spines around a changing image). The rest
    of the figure must look the same at every setting, and its layout be fixed (margins set,
    no layout engine); tests/course/test_explorers.py checks that the redraw equals a full
    drawing. Returns ``update``.
    """
    update.changing = tuple(artists)
    return update


class Redraw:
    """A slider move: ``redraw(**settings)`` runs update(**settings) and returns the figure as PNG.

    With ``changes_only``: the figure without the changing artists is drawn once (here) and
    kept as a pixel buffer; each move restores it and draws the changing artists over it.
    Without: the whole figure, each time. Either way the PNG is encoded fast (zlib level 1,
    RGB when opaque): it goes to the browser, while ``render_png`` writes what a notebook stores.
    """

    def __init__(self, fig, update):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig, self.update = fig, update
        self.changing = tuple(getattr(update, "changing", ()))
        # One Agg canvas for every move: a figure closed for pyplot (as ``explore`` does) is left
        # with a bare canvas, and savefig would then build a new Agg canvas and renderer each time,
        # measuring every text again.
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)  # becomes fig.canvas
        self.canvas = fig.canvas
        self._background, self._size = None, None
        if self.changing:
            self._keep_background()

    def _keep_background(self):
        canvas = self.canvas
        shown = [a.get_visible() for a in self.changing]
        for a in self.changing:
            a.set_visible(False)
        canvas.draw()
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        self._size = canvas.get_width_height(physical=True)
        for a, visible in zip(self.changing, shown, strict=True):
            a.set_visible(visible)

    def png(self) -> bytes:
        """The figure as it stands, as PNG bytes."""
        canvas = self.canvas
        if not self.changing:
            canvas.draw()
        else:
            if canvas.get_width_height(physical=True) != self._size:  # resized or new dpi
                self._keep_background()
            canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            for a in self.changing:
                a.draw(renderer)
        return _fast_png(canvas)

    def __call__(self, **settings) -> bytes:
        self.update(**settings)
        return self.png()


def _fast_png(canvas) -> bytes:
    from PIL import Image

    rgba = np.asarray(canvas.buffer_rgba())
    image = Image.fromarray(rgba)
    if rgba[..., 3].min() == 255:  # opaque: three channels are a quarter less to compress
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def redraw_ms(fig, update, settings, repeats=3):
    """Median time in milliseconds of a slider move (``Redraw``: update(**s) + PNG) over the settings.

    Parameters
    ----------
    fig : matplotlib Figure
    update : callable(**settings)
    settings : list of dict
        Slider positions to cycle through (each is timed ``repeats`` times).

    Notes
    -----
    Machine-dependent: printed by tests/course/test_explorers.py, never stored in a notebook.
    """
    redraw = Redraw(fig, update)
    times = []
    for _ in range(repeats):
        for s in settings:
            t0 = time.perf_counter()
            redraw(**s)
            times.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(times))


class Explorer:
    """Sliders over a figure; shown as the widget with a kernel, as the figure and a hint without.

    A notebook output holds one mime bundle and the front end picks the richest type it
    may render: with a kernel, the widget view; in a notebook opened from a fresh clone
    (untrusted, no widget state) or on GitHub, the PNG of the figure as first drawn.
    """

    def __init__(self, ui, png):
        self.ui, self.png = ui, png

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.ui._repr_mimebundle_(include=include, exclude=exclude)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        return {**bundle, "image/png": base64.b64encode(self.png).decode("ascii"), "text/plain": HINT}


def explorer_figures(name, build, settings, **ranges):
    """Registry entries (name -> zero-argument callable returning a Figure) for one explorer.

    The explorer at ``settings`` (what the notebook stores) and at each slider's extremes, the
    other sliders staying at ``settings``: what a chapter's ``FIGURES`` lists, so that the figure
    linter (tests/course/figure_lint.py) sees every picture a slider can reach the edge of.

    Parameters
    ----------
    name : str
    build : callable() -> (fig, update)
    settings : dict
        The settings of the notebook's plain call of ``update``.
    **ranges
        setting -> the values to try, e.g. ``stride=(1, 4)`` (a slider's min and max) or the
        options of a dropdown.
    """

    def drawn(s):
        def figure():
            fig, update = build()
            update(**s)
            return fig

        return figure

    entries = {name: drawn(settings)}
    for key, values in ranges.items():
        for value in values:
            entries[f"{name}, {key}={value}"] = drawn({**settings, key: value})
    return entries


def explore(fig, update, **sliders):
    """Show ``fig`` with sliders; moving one calls update(**values) and shows the figure again.

    Parameters
    ----------
    fig : matplotlib Figure
        Built once; it is closed for pyplot so the inline backend does not show it twice.
    update : callable(**settings)
        Changes the figure's artists in place.
    **sliders
        ipywidgets widgets or interact abbreviations: (min, max), (min, max, step), list.

    Returns
    -------
    Explorer
        Displayed by the notebook (assign it, or let it be the cell's last value);
        ``.ui`` is the ``ipywidgets.interactive``.
    """
    import ipywidgets as widgets

    plt.close(fig)
    png = render_png(fig)  # the figure as it stands before any slider moves: the fallback
    # The figure is an Image widget, not a display() into the interactive's Output widget. A
    # headless run (nbconvert --execute, nbclient) plays the Output widget's front end and answers
    # every output on the kernel's shell socket while it awaits the cell's reply on that socket;
    # the two race, and one run in a few then waited forever after an explorer cell (nbclient
    # issue 312). Nothing goes into the Output widget now, so nothing is sent back.
    image = widgets.Image(value=png, format="png")
    redraw = Redraw(fig, update)

    def show(**settings):
        image.value = redraw(**settings)

    ui = widgets.interactive(show, **sliders)
    ui.children = (*ui.children, image)
    ui.layout = widgets.Layout(width="100%")
    return Explorer(ui, png)
