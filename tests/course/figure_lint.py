"""The figure linter: layout faults of a matplotlib figure, measured on the artists' extents after a draw.

``lint(fig)`` draws ``fig`` once on the Agg canvas at its own size and dpi (what the notebooks store:
``InlineBackend.print_figure_kwargs = {"bbox_inches": None}``, so the canvas is the figure) and returns
a list of ``Fault(kind, message)``. It reads matplotlib's extents (``get_window_extent``), never pixels:

- ``overlap``: two texts (tick labels, titles, labels, annotations, legend entries) overlap by > 1 px;
- ``outside``: a text reaches past the canvas edge by > 1 px (it is cut off in the stored PNG);
- ``colorbar``: a colour bar not beside its image (gap, or more than 1.25x the height of the panels it
  belongs to), narrower than 8 px, or with overlapping tick labels;
- ``fractional tick``: a non-integer tick label on an axis that indexes rows or columns of an image,
  or on the colour bar of integer-valued data;
- ``unlabelled axis``: an axis that shows tick labels but has no label;
- ``small text``: text below 9 pt at the size shown (stored PNGs wider than 1,100 px are shown scaled);
- ``too wide``: a figure wider than 1,100 px as stored.

Where the figures come from (nothing here names a chapter): every module
``cnnlib/course/chNN_*.py`` defines a module-level ``FIGURES``, a dict from a name to a zero-argument
callable returning a ``matplotlib.figure.Figure``: each figure function of the chapter with the
notebook's arguments, and each explorer at its default settings and at every slider's extremes
(``cnnlib.course.explore.explorer_figures`` builds those entries). ``chapter_figures()`` collects them,
so a new chapter module is linted as soon as it defines ``FIGURES``. The images of
``python -m cnnlib.course.images`` and every figure a notebook draws (tests/course/test_figures.py runs
the notebooks' code cells) are linted as well.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

import numpy as np
from matplotlib.text import Text
from matplotlib.transforms import Bbox

MIN_PT = 9.0
MAX_WIDTH_PX = 1100
MIN_COLORBAR_PX = 8.0
TOL_PX = 1.0
KINDS = ("overlap", "outside", "colorbar", "fractional tick", "unlabelled axis", "small text", "too wide")


@dataclass(frozen=True)
class Fault:
    kind: str
    message: str

    def __str__(self):
        return f"{self.kind}: {self.message}"


def chapter_figures():
    """name -> figure callable, from the ``FIGURES`` of every ``cnnlib.course.chNN_*`` module."""
    import cnnlib.course as course

    found = {}
    for info in sorted(pkgutil.iter_modules(course.__path__), key=lambda m: m.name):
        if info.name.startswith("ch") and info.name[2:4].isdigit():
            module = importlib.import_module(f"cnnlib.course.{info.name}")
            for name, make in getattr(module, "FIGURES", {}).items():
                found[f"{info.name[:4]} {name}"] = make
    return found


def _all_axes(fig):
    """Every Axes of the figure, with the insets (child axes: e.g. a colour bar beside its image)."""
    found, todo = [], list(fig.axes)
    while todo:
        ax = todo.pop(0)
        found.append(ax)
        todo.extend(ax.child_axes)
    return found


def _colorbars(fig):
    """colour-bar Axes -> the Colorbar, found through the mappables that own one."""
    bars = {}
    for ax in _all_axes(fig):
        for artist in [*ax.images, *ax.collections]:
            cb = getattr(artist, "colorbar", None)
            if cb is not None:
                bars[cb.ax] = cb
    return bars


def _in_view(loc, interval, scale=None):
    """``loc`` within the view ``interval``, compared on the axis's scale (a log axis: in decades)."""
    if scale is not None:
        with np.errstate(all="ignore"):
            loc, *interval = np.ravel(scale.transform(np.array([loc, *interval], dtype=float)))
        if not np.isfinite([loc, *interval]).all():
            return False
    lo, hi = sorted(interval)
    span = max(hi - lo, 1e-300)
    return lo - 1e-6 * span <= loc <= hi + 1e-6 * span


def _tick_labels(ax):
    """{'x': [...], 'y': [...]}: the tick-label Texts this axes draws (visible, in view, not empty)."""
    out = {}
    for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
        labels = []
        if axis.get_visible():
            interval = axis.get_view_interval()
            scale = axis.get_transform()
            for locs, ticks in (
                (axis.get_majorticklocs(), axis.get_major_ticks),
                (axis.get_minorticklocs(), axis.get_minor_ticks),
            ):
                for loc, tick in zip(locs, ticks(len(locs)), strict=False):
                    if not _in_view(loc, interval, scale):
                        continue
                    for lab in (tick.label1, tick.label2):
                        if lab.get_visible() and lab.get_text().strip():
                            labels.append(lab)
        out[name] = labels
    return out


def _shown(t):
    """Drawn: visible, not empty, in a visible axes."""
    if not (t.get_visible() and t.get_text().strip()):
        return False
    return t.axes is None or t.axes.get_visible()


def _number(s):
    s = s.replace("\u2212", "-").replace("$", "").replace("\\mathdefault{", "").replace("}", "").strip()
    try:
        return float(s)
    except ValueError:
        return None


def _integer_valued(a):
    a = np.asarray(a, dtype=float)
    a = a[np.isfinite(a)]
    return a.size > 0 and bool(np.all(a == np.round(a)))


def _describe(t):
    where = "figure" if t.axes is None else (t.axes.get_title() or t.axes.get_label() or "axes")
    return f"'{t.get_text()[:40]}' ({where[:40]})"


def lint(fig, max_width_px=MAX_WIDTH_PX):
    """The layout faults of ``fig`` as drawn at its own size and dpi (a list of Fault, empty if none).

    ``max_width_px``: the widest a stored figure may be (a notebook's output column shows 1,100 px);
    a wider figure is a fault and is shown scaled down, so its text is measured at that scale.
    None for a figure shown at its own size (the README images of images/).
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = Bbox.from_bounds(0, 0, *fig.canvas.get_width_height())
    faults = []
    width_px = canvas.width
    scale = fig.dpi / 100  # points at the size shown: one stored pixel per CSS pixel (96 dpi ~ 100)
    if max_width_px is not None and width_px > max_width_px + 0.5:
        faults.append(Fault("too wide", f"{width_px:.0f} px as stored (at most {max_width_px})"))
        scale *= max_width_px / width_px

    bars = _colorbars(fig)
    axes = _all_axes(fig)
    ticks = {ax: _tick_labels(ax) for ax in axes if ax.get_visible()}
    tick_ids = {id(t) for d in ticks.values() for ts in d.values() for t in ts}
    all_tick_texts = {
        id(t)
        for ax in axes
        for axis in (ax.xaxis, ax.yaxis)
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]
        for t in (tick.label1, tick.label2)
    }
    texts = []
    for t in fig.findobj(Text):
        if id(t) in all_tick_texts and id(t) not in tick_ids:
            continue  # a tick outside the view is not drawn
        if not _shown(t):
            continue
        box = t.get_window_extent(renderer)
        if box.width <= 0 or box.height <= 0:
            continue
        if t.get_clip_on() and t.axes is not None and id(t) not in tick_ids:
            clip = t.get_clip_box()
            if clip is not None and not box.overlaps(clip):
                continue  # clipped away entirely
        texts.append((t, box))

    # small text and text outside the canvas
    for t, box in texts:
        pt = t.get_fontsize() * scale
        if pt < MIN_PT - 1e-6:
            faults.append(Fault("small text", f"{_describe(t)} at {pt:.1f} pt"))
        past = max(canvas.x0 - box.x0, box.x1 - canvas.x1, canvas.y0 - box.y0, box.y1 - canvas.y1)
        if past > TOL_PX:
            faults.append(Fault("outside", f"{_describe(t)} reaches {past:.0f} px past the canvas edge"))

    # overlapping texts
    cbar_tick_ids = {id(t) for ax in bars for ts in ticks.get(ax, {}).values() for t in ts}
    if texts:
        b = np.array([[box.x0, box.y0, box.x1, box.y1] for _, box in texts])
        w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
        h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
        hit = (w > TOL_PX) & (h > TOL_PX)
        for i, j in zip(*np.nonzero(np.triu(hit, 1)), strict=True):
            (ti, _), (tj, _) = texts[i], texts[j]
            kind = "colorbar" if id(ti) in cbar_tick_ids and id(tj) in cbar_tick_ids else "overlap"
            faults.append(
                Fault(kind, f"{_describe(ti)} and {_describe(tj)} overlap by {w[i, j]:.0f}x{h[i, j]:.0f} px")
            )

    # colour bars: beside their image, wide enough, integer ticks on integer data
    for cax, cb in bars.items():
        cbox = cax.get_window_extent(renderer)
        vertical = cb.orientation == "vertical"
        thickness = cbox.width if vertical else cbox.height
        name = f"colour bar of '{cb.mappable.axes.get_title()[:40]}'"
        if thickness < MIN_COLORBAR_PX:
            faults.append(Fault("colorbar", f"{name} is {thickness:.1f} px thin"))
        group = [
            ax.get_window_extent(renderer)
            for ax in axes
            if ax not in bars
            and any(
                im.get_cmap().name == cb.mappable.get_cmap().name and im.get_clim() == cb.mappable.get_clim()
                for im in [*ax.images, *ax.collections]
                if hasattr(im, "get_clim")
            )
        ]
        if group:
            if vertical:  # right of its panels, or left of them
                gap = {id(g): max(cbox.x0 - g.x1, g.x0 - cbox.x1) for g in group}
                gaps = [v for v in gap.values() if v >= -TOL_PX]
                near = [g for g in group if gaps and abs(gap[id(g)] - min(gaps)) < 5]
                span = Bbox.union(near) if near else None
                too_far = not gaps or min(gaps) > 0.1 * canvas.width
                too_tall = span is not None and cbox.height > 1.25 * span.height + 2
                off = span is not None and (cbox.y1 < span.y0 or cbox.y0 > span.y1)
            else:  # below its panels, or above them
                gap = {id(g): max(g.y0 - cbox.y1, cbox.y0 - g.y1) for g in group}
                gaps = [v for v in gap.values() if v >= -TOL_PX]
                near = [g for g in group if gaps and abs(gap[id(g)] - min(gaps)) < 5]
                span = Bbox.union(near) if near else None
                too_far = not gaps or min(gaps) > 0.1 * canvas.height
                too_tall = span is not None and cbox.width > 1.25 * span.width + 2
                off = span is not None and (cbox.x1 < span.x0 or cbox.x0 > span.x1)
            if too_far or off:
                faults.append(Fault("colorbar", f"{name} is not beside its image"))
            elif too_tall:
                faults.append(Fault("colorbar", f"{name} is longer than 1.25x the panels it belongs to"))
        data = cb.mappable.get_array()
        if data is not None and _integer_valued(data):
            for t in ticks.get(cax, {}).get("y" if vertical else "x", []):
                v = _number(t.get_text())
                if v is not None and v != round(v):
                    faults.append(Fault("fractional tick", f"{name}: tick {t.get_text()} on integer data"))

    # pixel-index axes, axis labels
    for ax, labels in ticks.items():
        if ax in bars or not ax.axison:
            continue
        if ax.images:
            for t in [*labels["x"], *labels["y"]]:
                v = _number(t.get_text())
                if v is not None and v != round(v):
                    where = f"a pixel axis of '{ax.get_title()[:40]}'"
                    faults.append(Fault("fractional tick", f"tick {t.get_text()} on {where}"))
        for axis_name, get_label in (("x", ax.get_xlabel), ("y", ax.get_ylabel)):
            if labels[axis_name] and not get_label().strip():
                faults.append(Fault("unlabelled axis", f"{axis_name} axis of '{ax.get_title()[:40] or ax}'"))
    return faults


def count_by_kind(faults):
    """{kind: number of faults}, every kind listed."""
    return {k: sum(f.kind == k for f in faults) for k in KINDS}


__all__ = ["Fault", "KINDS", "chapter_figures", "count_by_kind", "lint"]
