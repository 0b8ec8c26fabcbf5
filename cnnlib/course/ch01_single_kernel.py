"""Notebook 01, one kernel: the backward-accumulation picture and the dw/dx exercise checkers.

Used by notebooks/01_single_kernel.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from .. import conv
from .draw import heatmap, symmetric_limit, text_colour
from .explore import changes_only, explorer_figures
from .grading import WrongAttempt, check, check_refusing_library_gradients, combinations


def two_layer_figure(i, w1, w2):
    """The two-layer example of the question "Convolution backpropagation" as five heatmaps.

    Input i (3×3) ★ kernel w¹ (2×2) gives o¹ (2×2); o¹ ★ w² (2×2) gives the single o².
    The window of o¹₁ is framed in i, and o¹₁ itself in o¹: the four products in which the
    top-left weight w¹₁ takes part are i₁, i₂, i₄, i₅ times it, one per entry of o¹.

    Parameters
    ----------
    i : ndarray of shape (3, 3)
    w1, w2 : ndarray of shape (2, 2)

    Returns
    -------
    matplotlib.figure.Figure
        10.5 in wide (inside the notebook column), signed colours with symmetric limits
        and a colour bar per panel.

    Notes
    -----
    o¹ = i ★ w¹ and o² = o¹ ★ w² (cross-correlations). Derived in notebooks/01_single_kernel.ipynb.
    """
    i, w1, w2 = (np.asarray(v, dtype=float) for v in (i, w1, w2))
    o1 = conv.conv2d_forward(i[None, None], w1[None, None])[0, 0]
    o2 = conv.conv2d_forward(o1[None, None], w2[None, None])[0, 0]
    fig, axes = plt.subplots(1, 5, figsize=(10.8, 3.1), gridspec_kw={"width_ratios": [3, 2, 2, 2, 1]})
    panels = [(i, "input i"), (w1, "kernel w¹"), (o1, "o¹ = i ★ w¹"), (w2, "kernel w²"), (o2, "o² = o¹ ★ w²")]
    for ax, (a, name) in zip(axes, panels, strict=True):
        im = heatmap(a, name, ax, fmt="{:g}", annotate=True, xlabel="column", ylabel="row")
        ax.set_title(name, fontsize=11)
        lim = symmetric_limit(a)
        im.colorbar.set_ticks([-lim, 0, lim])  # three ticks fit beside the smallest panel
    for ax, (r, c, h, w) in ((axes[0], (0, 0, 2, 2)), (axes[1], (0, 0, 1, 1)), (axes[2], (0, 0, 1, 1))):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False, ec="tab:red", lw=2.5))
    fig.suptitle("Two layers, no bias: C = (o² − t)².  Red: the window of o¹₁, the weight w¹₁", fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.95, top=0.86, bottom=0.15, wspace=0.75)
    return fig


def agreement(a, b):
    """How closely two exact computations of the same array agree, as a stable printout.

    For a hand computation against the library (no finite differences): their relative
    error is rounding only, ~1e-16, and is printed with a floor as "rel. error < 1e-12,
    well below 1e-07" (the last bits of a right answer differ between machines).
    """
    from ..gradcheck import error_bound, rel_error

    return error_bound(max(rel_error(a, b), 1e-13))


def backward_accumulation_explorer(x, w, delta):
    """∂E/∂w and ∂E/∂x of one single-kernel layer, built up one output at a time.

    Output (i, j) used the window x[i:i+kh, j:j+kw] and every weight once, so its
    δ[i, j] adds δ[i, j]·window to ∂E/∂w and δ[i, j]·w to the window's place in ∂E/∂x.
    ``update(step=t)`` shows the sums after the first t outputs (row-major) with output
    t − 1's window outlined; t = Ho·Wo gives the full gradients.

    Parameters
    ----------
    x : ndarray of shape (H, W)
    w : ndarray of shape (kh, kw)
    delta : ndarray of shape (H − kh + 1, W − kw + 1)
        δ = ∂E/∂y.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Four panels in a 2 × 2 grid, numbers in every cell and a colour bar each (all
        signed: diverging colours, symmetric limits): x, δ, ∂E/∂w so far and ∂E/∂x so far
        (their colour bars fixed to the final gradients, so partial sums are comparable).
    update : callable(step)
        step in 0 .. Ho·Wo (clamped). Returns a dict: "step" drawn, "dw" and "dx", the partial sums.

    Notes
    -----
    At t = Ho·Wo: ∂E/∂w = x ★ δ and ∂E/∂x = pad(δ, k − 1) ★ rot180(w) (full
    cross-correlation). Derived in notebooks/01_single_kernel.ipynb.
    """

    x, w, delta = (np.asarray(v, dtype=float) for v in (x, w, delta))
    (H, W), (kh, kw) = x.shape, w.shape
    Ho, Wo = H - kh + 1, W - kw + 1
    if delta.shape != (Ho, Wo):
        raise ValueError(f"delta must have the output's shape ({Ho}, {Wo}), got {delta.shape}")
    # every partial sum, precomputed: a redraw is then set_data + set_text only
    dws, dxs = [np.zeros_like(w)], [np.zeros_like(x)]
    for i in range(Ho):
        for j in range(Wo):
            dws.append(dws[-1] + delta[i, j] * x[i : i + kh, j : j + kw])
            dx = dxs[-1].copy()
            dx[i : i + kh, j : j + kw] += delta[i, j] * w
            dxs.append(dx)
    # 2 x 2 panels, 9.4 in wide: inside the notebook column, so nothing is scaled down
    fig, axes2 = plt.subplots(2, 2, figsize=(9.4, 7.6))
    axes = axes2.ravel()
    # x and δ are signed: diverging colours, symmetric limits, a colour bar each (like the gradients)
    lim_xin, lim_d = symmetric_limit(x), symmetric_limit(delta)
    im_in = heatmap(x, "input x", axes[0], vmax=lim_xin, fmt="{:g}", annotate=True, cbar_label="x",
                    xlabel="input column v", ylabel="input row u")  # fmt: skip
    im_d = heatmap(delta, "δ = ∂E/∂y", axes[1], vmax=lim_d, fmt="{:g}", annotate=True, cbar_label="δ",
                   xlabel="output column j", ylabel="output row i")  # fmt: skip
    lim_w, lim_x = symmetric_limit(dws[-1]), symmetric_limit(dxs[-1])
    im_w = heatmap(dws[-1], "∂E/∂w", axes[2], vmax=lim_w, fmt="{:g}", annotate=True, cbar_label="∂E/∂w",
                   xlabel="kernel column n", ylabel="kernel row m")  # fmt: skip
    im_x = heatmap(dxs[-1], "∂E/∂x", axes[3], vmax=lim_x, fmt="{:g}", annotate=True, cbar_label="∂E/∂x",
                   xlabel="input column v", ylabel="input row u")  # fmt: skip
    for im, lim in zip((im_in, im_d, im_w, im_x), (lim_xin, lim_d, lim_w, lim_x), strict=True):
        im.colorbar.set_ticks([-lim, 0, lim])
    texts_w, texts_x = list(axes[2].texts), list(axes[3].texts)
    win = axes[0].add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="tab:red", lw=2.5))
    cell = axes[1].add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, ec="tab:red", lw=2.5))
    place = axes[3].add_patch(Rectangle((-0.5, -0.5), kw, kh, fill=False, ec="tab:red", lw=2.5))
    titles = (axes[2].title, axes[3].title)
    title = fig.suptitle("")

    def update(step=Ho * Wo):
        t = min(max(int(step), 0), Ho * Wo)
        dw, dx = dws[t], dxs[t]
        im_w.set_data(dw)
        im_x.set_data(dx)
        for texts, arr, im in ((texts_w, dw, im_w), (texts_x, dx, im_x)):
            for txt, v in zip(texts, arr.ravel(), strict=True):
                txt.set_text(f"{v:g}")
                txt.set_color(text_colour(im, v))
        shown = t > 0
        for patch in (win, cell, place):
            patch.set_visible(shown)
        if shown:
            i, j = divmod(t - 1, Wo)
            win.set_xy((j - 0.5, i - 0.5))
            cell.set_xy((j - 0.5, i - 0.5))
            place.set_xy((j - 0.5, i - 0.5))
            title.set_text(
                f"after {t} of {Ho * Wo} outputs: output ({i}, {j}) adds δ[{i},{j}]·window to ∂E/∂w\n"
                f"and δ[{i},{j}]·w to the window's place in ∂E/∂x"
            )
        else:
            title.set_text(f"after 0 of {Ho * Wo} outputs: both gradients start at zero")
        titles[0].set_text(f"∂E/∂w so far  ({kh}×{kw})")
        titles[1].set_text(f"∂E/∂x so far  ({H}×{W})")
        return {"step": t, "dw": dw, "dx": dx}

    update()
    # fixed margins, no layout engine: a layout engine would make every savefig draw the figure twice
    fig.subplots_adjust(left=0.07, right=0.93, top=0.86, bottom=0.08, wspace=0.35, hspace=0.4)
    # a slider move redraws the two sums, the outlines (the spines go back over them) and the title;
    # x, δ, the axes and the colour bars (fixed to the final gradients) are drawn once
    spines = [spine for ax in axes for spine in ax.spines.values()]
    changing = [im_w, im_x, win, cell, place, *spines, *texts_w, *texts_x, title]  # back to front
    return fig, changes_only(update, changing)


# every figure of notebook 01, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "two-layer figure": lambda: two_layer_figure(
        np.array([[1, 2, 0], [0, 1, 2], [2, 0, 1]]), np.array([[1, 0], [-1, 2]]), np.array([[2, 1], [0, -1]])
    ),
    **explorer_figures(
        "backward accumulation explorer",
        lambda: backward_accumulation_explorer(
            np.array([[2, 1, 0, -1], [-1, -2, -2, -2], [-2, 2, 1, 2], [0, 1, 2, 1]]),
            np.array([[1, 2], [0, -1]]),
            np.array([[0, 0, 0], [1, -1, 1], [1, -1, 0]]),
        ),
        dict(step=4),
        step=(0, 9),
    ),
}


def _single_kernel_cases(seed, kinds):
    """(x, w, δ) triples of single 2-D arrays, square and not, kernels up to the input's size and 1×1."""
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3), (4, 4, 4, 4), (3, 5, 1, 1)]:
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _dx_expected(delta, w):
    H, W = delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1
    x = np.zeros((1, 1, H, W))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None, None], x, w[None, None])[0][0, 0]


def _planted_dx(delta, w, flip=False, overwrite=False, rows=None, cols=None):
    """The exercise's loop over kernel entries (each adds w[m, n]·δ onto the slice it met), bugs on or off.

    flip: rot180(w)[m, n] instead of w[m, n]; overwrite: ``=`` instead of ``+=``; rows, cols:
    the size of the array allocated for ∂E/∂x (default Ho + kh − 1, Wo + kw − 1).
    """
    (Ho, Wo), (kh, kw) = delta.shape, w.shape
    dx = np.zeros((rows or Ho + kh - 1, cols or Wo + kw - 1))
    k = w[::-1, ::-1] if flip else w
    for m in range(kh):
        for n in range(kw):
            if overwrite:
                dx[m : m + Ho, n : n + Wo] = k[m, n] * delta
            else:
                dx[m : m + Ho, n : n + Wo] += k[m, n] * delta
    return dx


def _gathered_dx(delta, w, cols):
    """The full correlation pad(δ, (kh − 1, cols)) ★ rot180(w): the gather form, cols columns of padding."""
    kh, kw = w.shape
    padded = np.pad(delta, ((kh - 1, kh - 1), (cols, cols)))
    k = w[::-1, ::-1]
    Ho, Wo = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    return np.array([[np.sum(padded[u : u + kh, v : v + kw] * k) for v in range(Wo)] for u in range(Ho)])


_DX_BUGS = {
    "flip": ("flip", "flip: the kernel is flipped once too often or too few (that is the gradient of a "
             "true convolution y = x ∗ w, notebook 00). Output (i, j) read x[i + m, j + n] with w[m, n], so "
             "w[m, n] itself goes back to ∂E/∂x[i + m, j + n]; rot180(w) belongs to the gather form of "
             "section 2(d), where the sum is turned around to run over the windows that cover one pixel."),
    "overwrite": ("accumulate", "accumulate: = keeps only the last kernel entry's share of a pixel; the "
                  "slices of different kernel entries overlap, and a pixel of ∂E/∂x sums one product per "
                  "window that read it: +=."),
}  # fmt: skip

_DX_ATTEMPTS = [
    *combinations(_DX_BUGS, _planted_dx),
    WrongAttempt(
        "off-by-one",
        "off-by-one: ∂E/∂x has the shape of x, H = Ho + kh - 1 rows and W = Wo + kw - 1 columns (the "
        "output size turned around); yours has one row and one column too many.",
        lambda delta, w: _planted_dx(
            delta, w, rows=delta.shape[0] + w.shape[0], cols=delta.shape[1] + w.shape[1]
        ),
    ),
    WrongAttempt(
        "height-width",
        "height-width: ∂E/∂x has W = Wo + kw - 1 columns; your array is Wo + kh - 1 wide, kh used for the "
        "columns too, which only square kernels hide.",
        lambda delta, w: _planted_dx(delta, w, cols=delta.shape[1] + w.shape[0] - 1),
    ),
    WrongAttempt(
        "height-width",
        "height-width: δ is padded with kh - 1 columns; the columns need kw - 1 (pad(δ, (kh - 1, kw - 1))), "
        "which only square kernels hide.",
        lambda delta, w: _gathered_dx(delta, w, cols=w.shape[0] - 1),
    ),
]


def check_single_kernel_dx(fn, seed=0, diagnose=True):
    """Exercise (find the bugs): fn(delta, w) -> ∂E/∂x of one kernel: δ (Ho, Wo), w (kh, kw) -> (H, W).

    Expected: the full cross-correlation pad(δ, k − 1) ★ rot180(w), H = Ho + kh − 1, through
    cnnlib's conv2d_backward. The planted code adds w[m, n]·δ onto a slice of ∂E/∂x per
    kernel entry; names "flip", "accumulate" (its two bugs), "off-by-one", "height-width".
    A function that calls cnnlib's correlation or a backward pass breaks the rule
    "library-gradient". Derived in notebooks/01_single_kernel.ipynb.
    """
    cases = _single_kernel_cases(seed, ("delta", "w"))

    def run(f):
        return check(f, _dx_expected, cases, "dE/dx", _DX_ATTEMPTS, diagnose=diagnose)

    return check_refusing_library_gradients(run, fn, "the full correlation of section 4")


def _two_layer_cases(seed):
    """(x, w, v, t): x ★ w ★ v of several shapes, the last the 3×3 / 2×2 / 2×2 net of section 3."""
    rng = np.random.default_rng(seed)
    cases = []
    for x_hw, w_hw, v_hw in [((4, 4), (2, 2), (2, 2)), ((5, 4), (3, 2), (2, 2)), ((6, 5), (2, 3), (3, 1)),
                             ((3, 3), (2, 2), (2, 2))]:  # fmt: skip
        z_hw = tuple(x - w - v + 2 for x, w, v in zip(x_hw, w_hw, v_hw, strict=True))
        cases.append(tuple(rng.standard_normal(hw) for hw in (x_hw, w_hw, v_hw, z_hw)))
    return cases


def _two_layer_parts(x, w, v, t):
    """o = x ★ w, z = o ★ v and δ_z = z − t through cnnlib (NCHW with N = C = D = 1)."""
    o = conv.conv2d_forward(x[None, None], w[None, None])
    z = conv.conv2d_forward(o, v[None, None])
    return o, z, z - t[None, None]


def _two_layer_dw_expected(x, w, v, t):
    o, _, delta_z = _two_layer_parts(x, w, v, t)
    delta_o = conv.conv2d_backward(delta_z, o, v[None, None])[0]
    return conv.conv2d_backward(delta_o, x[None, None], w[None, None])[1][0, 0]


def _two_layer_attempt(kind):
    def answer(x, w, v, t):
        o, _, delta_z = _two_layer_parts(x, w, v, t)
        if kind == "product-of-sums":  # (Σ of the inputs w[m, n] meets) · (Σ of ∂E/∂o)
            ones = np.ones(o.shape[2:])
            return conv.conv2d_forward(x[None, None], ones[None, None])[0, 0] * delta_z.sum() * v.sum()
        scale = {"sign": -1.0, "constant-factor": 2.0}.get(kind, 1.0)
        vk = v[::-1, ::-1] if kind == "flip" else v  # a flip too many or too few in δ_o
        delta_o = conv.conv2d_backward(scale * delta_z, o, vk[None, None])[0]
        return conv.conv2d_backward(delta_o, x[None, None], w[None, None])[1][0, 0]

    return answer


_TWO_LAYER_ATTEMPTS = [
    WrongAttempt(
        "product-of-sums",
        "product-of-sums: you multiplied (the sum of the inputs w[m, n] meets) by (the sum of ∂E/∂o), "
        "the asker's mistake of section 3; the chain rule sums one product per path, "
        "∂E/∂w[m, n] = Σ_ij δ_o[i, j]·x[i + m, j + n].",
        _two_layer_attempt("product-of-sums"),
    ),
    WrongAttempt(
        "flip",
        "flip: ∂E/∂o, the input gradient of the upper layer, is the full correlation of δ_z with rot180(v) "
        "(rule (d)); your v is flipped once too few or too often.",
        _two_layer_attempt("flip"),
    ),
    WrongAttempt(
        "sign",
        "sign: the gradient has the wrong sign: with E = ½Σ(z - t)², δ_z = ∂E/∂z = z - t, not t - z.",
        _two_layer_attempt("sign"),
    ),
    WrongAttempt(
        "constant-factor",
        "constant-factor: twice the right answer: E = ½Σ(z - t)² gives δ_z = z - t; 2(z - t) belongs "
        "to section 3's C = (z - t)² without the ½.",
        _two_layer_attempt("constant-factor"),
    ),
]


def check_two_layer_dw(fn, seed=0):
    """Exercise (derive): fn(x, w, v, t) -> ∂E/∂w for z = (x ★ w) ★ v and E = ½ Σ (z − t)².

    x (H, W), w (kh, kw), v (kh2, kw2), t like z -> (kh, kw). Expected: δ_z = z − t, δ_o =
    pad(δ_z, k2 − 1) ★ rot180(v), ∂E/∂w = x ★ δ_o, through cnnlib's conv2d_backward. Names
    "product-of-sums", "flip", "sign", "constant-factor". Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _two_layer_dw_expected, _two_layer_cases(seed), "two-layer dE/dw", _TWO_LAYER_ATTEMPTS)
