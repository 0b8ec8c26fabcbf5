"""Notebook 04, padding: the padded-gradient figure and explorer, the source question's formula, checkers.

Used by notebooks/04_padding.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .. import conv
from ..conv import conv2d_backward, conv2d_forward, dilate, pad, rot180
from ..shapes import (
    conv_output_size,
    padding_sides,
    transposed_conv_padding,
)
from .draw import SIGNED_CMAP, fix_layout, heatmap, set_image, symmetric_limit
from .explore import explorer_figures, output_size_or_reason
from .grading import WrongAttempt, check, combinations, likely_bugs, not_implemented, report

# the question's equation (2) is shared with notebooks 03 and 06: it lives in sources.py
from .sources import question_filter_gradient as question_filter_gradient


def padded_gradient_heatmap(dxp, padding, ax=None, *, title="∂E/∂$x_p$, gradient of the padded input", **kw):
    """Heatmap of ∂E/∂xp with the region that survives the crop outlined.

    Parameters
    ----------
    dxp : ndarray of shape (H + top + bottom, W + left + right)
        Gradient with respect to the zero-padded input.
    padding : int, (ph, pw) or ((top, bottom), (left, right))
        The forward padding; the outlined region is what ∂E/∂x keeps.
    ax : matplotlib Axes or None
    title : str
    **kw
        Passed to ``heatmap`` (annotate, vmax, fmt, ...).

    Returns
    -------
    matplotlib.image.AxesImage

    Notes
    -----
    ∂E/∂x[u, v] = ∂E/∂xp[u + top, v + left]: the border entries (generally non-zero)
    are the gradient of constants and are dropped. Derived in notebooks/04_padding.ipynb.
    """
    dxp = np.asarray(dxp, dtype=float)
    (top, bottom), (left, right) = padding_sides(padding)
    H, W = dxp.shape[0] - top - bottom, dxp.shape[1] - left - right
    if H < 1 or W < 1:
        raise ValueError(f"padding {padding!r} leaves nothing of the {dxp.shape} array")
    kw.setdefault("xlabel", "column of the padded input")
    kw.setdefault("ylabel", "row of the padded input")
    im = heatmap(dxp, title, ax, **kw)
    ax = im.axes
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), W, H, fill=False, edgecolor="k", lw=2.2, ls="--",
                           label=f"kept: ∂E/∂x ({H}×{W})"))  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=9, frameon=False)
    return im


def padding_explorer(input_size=7, seed=0):
    """The padding explorer of notebook 04: ∂E/∂x through the padded input and as a transposed convolution.

    Three panels, redrawn in place for any stride s, padding p and kernel size k
    (square H×H input, k×k kernel): (a) ∂E/∂xp on the padded grid, with the windows
    of y[0, 0] and y[0, 1] (their distance is the stride) and the input's place, the
    part the crop keeps, dashed; (b) dilate(δ, s) (green) padded by k − p − 1 before
    and k − p − 1 + r after (negative amounts crop), the resulting array outlined in
    black; (c) ∂E/∂x = (b) ★ rot180(w), which the title compares with
    ``conv2d_backward``. w and δ are fixed random numbers drawn from ``seed`` (δ as if
    from any loss), so the picture is deterministic.

    Parameters
    ----------
    input_size : int
        H, the input is H×H.
    seed : int

    Returns
    -------
    fig : matplotlib Figure
    update : callable(stride, padding, kernel_size)
        Redraws every panel with ``set_data``, ``set_extent``, ``set_clim`` and
        ``set_bounds``. Returns a dict of what it drew: the settings, "Ho", "r",
        "before", "after" and "max_abs_diff" (transposed convolution vs
        ``conv2d_backward``); "Ho" is 0 and "reason" says why when the kernel does not
        fit the padded input.

    Notes
    -----
    r = (H + 2p − k) mod s. Padded δ has (Ho − 1)·s + 1 + (k − p − 1) + (k − p − 1 + r)
    = H + k − 1 rows, so its valid cross-correlation with rot180(w) is H×H, and it equals
    the centre of ∂E/∂xp. Derived in notebooks/04_padding.ipynb.
    """

    H = int(input_size)
    fig, (ax_dxp, ax_hat, ax_dx) = plt.subplots(1, 3, figsize=(11, 4.2))
    blank = np.full((1, 1), np.nan)
    ims = {}
    specs = [
        ("dxp", ax_dxp, "∂E/∂$x_p$", "column of the padded input", "row of the padded input"),
        ("hat", ax_hat, "δ", "column (dilated, padded δ)", "row (dilated, padded δ)"),
        ("dx", ax_dx, "∂E/∂x", "input column v", "input row u"),
    ]
    for key, ax, cb_label, xl, yl in specs:
        ims[key] = ax.imshow(blank, cmap=SIGNED_CMAP, vmin=-1, vmax=1, interpolation="nearest")
        cb = fig.colorbar(ims[key], ax=ax, fraction=0.046, pad=0.04, label=cb_label)
        # few tick labels: text layout is most of what a redraw costs
        cb.locator = MaxNLocator(nbins=4, symmetric=True)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))

    def box(ax, color, ls="-", lw=2.5):
        return ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=color, lw=lw, ls=ls))

    inside = box(ax_dxp, "k", "--", 2)
    win0, win1 = box(ax_dxp, "tab:red"), box(ax_dxp, "tab:orange", ":")
    dil_box, used_box = box(ax_hat, "tab:green", "--", 2), box(ax_hat, "k", "-", 2.5)
    patches = (inside, win0, win1, dil_box, used_box)
    suptitle = fig.suptitle("")

    def show(key, ax, a):
        set_image(ims[key], a)
        lim = symmetric_limit(a)
        ims[key].set_clim(-lim, lim)

    def update(stride, padding, kernel_size):
        s, p, k = int(stride), int(padding), int(kernel_size)
        drawn = {"stride": s, "padding": p, "kernel_size": k}
        Hp = H + 2 * p
        Ho, reason = output_size_or_reason(H, k, s, p)
        if not Ho:
            for key, ax, *_ in specs:
                show(key, ax, blank)
                ax.set_title("")
            for patch in patches:
                patch.set_visible(False)
            suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}: {reason}")
            none = dict.fromkeys(("r", "before", "after", "max_abs_diff"))
            return {**drawn, "Ho": 0, **none, "reason": reason}
        r = (Hp - k) % s
        w = np.random.default_rng(seed + 100 + k).standard_normal((k, k))
        delta = np.random.default_rng(seed + 1).standard_normal((Ho, Ho))

        # padding as its own layer: the unpadded strided layer's input gradient is ∂E/∂xp
        dxp = conv2d_backward(delta[None, None], np.zeros((1, 1, Hp, Hp)), w[None, None], s, 0)[0][0, 0]
        show("dxp", ax_dxp, dxp)
        inside.set_bounds(p - 0.5, p - 0.5, H, H)
        win0.set_bounds(-0.5, -0.5, k, k)
        win1.set_bounds(s - 0.5, -0.5, k, k)
        win1.set_visible(Ho > 1)
        ax_dxp.set_title(f"(a) ∂E/∂$x_p$, {Hp}×{Hp}: windows of y[0, 0] (red),\n"
                         f"y[0, 1] (orange); the crop keeps {H}×{H} (dashed)", fontsize=9.5)  # fmt: skip

        before, after = transposed_conv_padding(H, k, s, p)
        dil = dilate(delta, s)
        hat = pad(dil, ((before, after), (before, after)))
        # canvas: the union of dilate(δ) and the padded array, so that cropped entries stay visible
        L = dil.shape[0]
        lo, hi = min(0, -before), max(L, L + after)
        canvas = np.zeros((hi - lo, hi - lo))
        canvas[-lo : -lo + L, -lo : -lo + L] = dil
        show("hat", ax_hat, canvas)
        # one blank cell around the canvas: a black square as large as the canvas stays off the frame
        n_canvas = hi - lo
        ax_hat.set_xlim(-1.5, n_canvas + 0.5)
        ax_hat.set_ylim(n_canvas + 0.5, -1.5)
        dil_box.set_bounds(-lo - 0.5, -lo - 0.5, L, L)
        used_box.set_bounds(-before - lo - 0.5, -before - lo - 0.5, hat.shape[0], hat.shape[0])
        crop = " (negative: crop)" if min(before, after) < 0 else ""
        n_hat = hat.shape[0]
        ax_hat.set_title(f"(b) dilate(δ, {s}) (green, {L}×{L}), padded by {before} before,\n"
                         f"{after} after{crop} → black, {n_hat}×{n_hat}", fontsize=9.5)  # fmt: skip

        dx = conv2d_forward(hat[None, None], rot180(w)[None, None])[0, 0]
        diff = float(np.max(np.abs(dx - dxp[p : p + H, p : p + H])))
        show("dx", ax_dx, dx)
        ax_dx.set_title(f"(c) ∂E/∂x = (b) ★ rot180(w), {H}×{H};\nequals the crop of (a): {diff < 1e-10}",
                        fontsize=9.5)  # fmt: skip
        for patch in (inside, win0, dil_box, used_box):
            patch.set_visible(True)
        suptitle.set_text(f"H={H}, k={k}, s={s}, p={p}:  Ho = floor(({H} + 2·{p} − {k})/{s}) + 1 = {Ho},  "
                          f"r = ({H} + 2·{p} − {k}) mod {s} = {r}")  # fmt: skip
        return {**drawn, "Ho": Ho, "r": r, "before": before, "after": after, "max_abs_diff": diff}

    update(2, 1, 3)  # lay the figure out around real pictures and titles, not 1×1 placeholders
    fix_layout(fig, rect=(0, 0, 1, 0.96))
    return fig, update


def _padded_gradient_figure():
    fig, ax = plt.subplots(figsize=(5.6, 5.4))
    w, delta = np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([[1.0, 2.0], [-1.0, 1.0]])
    # the unpadded layer's input gradient on the 5x5 padded input (what x_p holds does not matter)
    dxp = conv2d_backward(delta[None, None], np.zeros((1, 1, 5, 5)), w[None, None], stride=2)[0][0, 0]
    padded_gradient_heatmap(dxp, 1, ax, title="∂E/∂$x_p$, k = 2, s = 2, p = 1", fmt="{:g}")
    fig.tight_layout()
    return fig


# every figure of notebook 04, for the figure linter: name -> zero-argument callable -> Figure
FIGURES = {
    "padded gradient heatmap": _padded_gradient_figure,
    **explorer_figures(
        "padding explorer",
        lambda: padding_explorer(input_size=7, seed=0),
        dict(stride=2, padding=1, kernel_size=3),
        stride=(1, 3),
        padding=(0, 3),
        kernel_size=(1, 5),
    ),
}


def _input_gradient_2d(dy, w, x_hw, stride, padding):
    """The library's ∂E/∂x of one single-channel layer (2-D arrays): the checkers' oracle."""
    x = np.zeros((1, 1) + tuple(x_hw))
    dx = conv.conv2d_backward(np.asarray(dy)[None, None], x, np.asarray(w)[None, None], stride, padding)[0]
    return dx[0, 0]


def _random_2d_cases(seed, n):
    """Random single-channel (dy, w, (H, W), s, p) cases, non-square, with stride and padding.

    The first cases are fixed so that every checker meets a 1x1 kernel with p > k - 1
    (windows made only of padding) and a stride that leaves rows unread.
    """
    rng = np.random.default_rng(seed)
    shapes = [((4, 5), (1, 1), 1, 2), ((6, 5), (3, 2), 2, 1), ((5, 7), (2, 3), 3, 2)]
    while len(shapes) < n:
        kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        H, W = max(1, kh - 2 * p) + int(rng.integers(0, 6)), max(1, kw - 2 * p) + int(rng.integers(0, 6))
        shapes.append(((H, W), (kh, kw), s, p))
    cases = []
    for (H, W), (kh, kw), s, p in shapes:
        Ho, Wo = conv_output_size(H, kh, s, p), conv_output_size(W, kw, s, p)
        cases.append((rng.standard_normal((Ho, Wo)), rng.standard_normal((kh, kw)), (H, W), s, p))
    return cases


def question_input_gradient(dEdO, F, I_shape, s, p):
    """∂E/∂I of the stride-and-padding question, written literally in its symbols.

    The library's solution of the third exercise of notebooks/04_padding.ipynb.

    Parameters
    ----------
    dEdO : ndarray of shape (H1, W1)
        ∂E/∂O, the delta of the output (our δ).
    F : ndarray of shape (FS, FS)
        The filter (our w).
    I_shape : (H, W)
        Shape of the input I (our x), before padding.
    s, p : int

    Returns
    -------
    ndarray of shape I_shape

    Notes
    -----
    I[u, v] appears in O[k, h] with the filter entry F[u − k·s + p, v − h·s + p], so

        ∂E/∂I[u, v] = Σ_k Σ_h ∂E/∂O[k, h] · F[u − k·s + p, v − h·s + p]

    with F read as 0 outside 0..FS−1. Derived in notebooks/04_padding.ipynb.
    """
    dEdO, F = np.asarray(dEdO, dtype=float), np.asarray(F, dtype=float)
    FSh, FSw = F.shape

    def F_at(a, b):
        return F[a, b] if 0 <= a < FSh and 0 <= b < FSw else 0.0

    dI = np.zeros(I_shape)
    for u in range(I_shape[0]):
        for v in range(I_shape[1]):
            for k in range(dEdO.shape[0]):
                for h in range(dEdO.shape[1]):
                    dI[u, v] += dEdO[k, h] * F_at(u - k * s + p, v - h * s + p)
    return dI


def _padded_expected(dy, w, x_hw, s, p):  # the exercise's parameter names, for the case lines
    return _input_gradient_2d(dy, w, x_hw, s, p)


def _planted_padded(
    dy, w, x_hw, s, p, assign=False, crop_end=False, crop_start=False, stride=False, flip=False
):
    """Exercise 1's scatter-then-crop with any of the usual mistakes switched on."""
    (H, W), (kh, kw) = x_hw, w.shape
    step, k = (1 if stride else s), (rot180(w) if flip else w)
    dxp = np.zeros((H + 2 * p, W + 2 * p))
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            window = dxp[i * step : i * step + kh, j * step : j * step + kw]
            window[...] = dy[i, j] * k if assign else window + dy[i, j] * k
    r, c = (0, 0) if crop_end else (2 * p, 2 * p) if crop_start else (p, p)
    return dxp[r : r + H, c : c + W]


_PADDED_BUGS = {
    "assign": ("accumulate", "accumulate: where windows overlap, dxp keeps only the last window's δ·w "
               "(= instead of +=); every output adds its share with +=."),
    "crop_end": ("crop", "crop: you kept the first H rows and W columns of dxp ([:H, :W]); the padding is "
                 "p rows and columns on each side: keep dxp[p:p + H, p:p + W]."),
    "crop_start": ("crop", "crop: you kept the last H rows and W columns of dxp; the padding is p on each "
                   "side: keep dxp[p:p + H, p:p + W]."),
    "stride": ("stride", "stride: the window of output (i, j) starts at row i·s, column j·s of x_p, not at "
               "(i, j)."),
    "flip": ("flip", "flip: adding δ[i, j]·w onto each window needs no flip; rot180 belongs to the "
             "gather form (the full correlation)."),
}  # fmt: skip


def check_padded_input_gradient(fn, seed=0, n=8, diagnose=True):
    """Exercise (find the bugs): fn(dy, w, (H, W), s, p) -> ∂E/∂x (H, W), via ∂E/∂xp and a crop.

    Compared with ``conv2d_backward`` on single-channel cases (non-square, with stride,
    padding and 1x1 kernels with p > k − 1). Names "accumulate", "crop", "stride", "flip".
    Derived in notebooks/04_padding.ipynb.
    """
    attempts = combinations(_PADDED_BUGS, _planted_padded, exclusive=("crop_end", "crop_start"))
    cases = _random_2d_cases(seed, n)
    return check(fn, _padded_expected, cases, "padded input gradient", attempts, diagnose=diagnose)


def _transposed_attempt(kind):
    def answer(n, k, s, padding):
        top, bottom = padding
        r = (n + top + bottom - k) % s
        return {
            "leftover-rows": (k - 1 - top, k - 1 - bottom),
            "sides": (k - 1 - bottom, k - 1 - top + r),
            "padding": (k - 1 - top, k - 1 - top + (n + 2 * top - k) % s),
            "off-by-one": (k - top, k - bottom + r),
        }[kind]

    return answer


_TRANSPOSED_ATTEMPTS = [
    WrongAttempt(
        "leftover-rows",
        "leftover-rows: the after-padding misses the r = (n + top + bottom - k) mod s rows no window "
        "reads; add them after the last δ.",
        _transposed_attempt("leftover-rows"),
    ),
    WrongAttempt(
        "sides",
        "sides: before and after are swapped; δ[0] is the window over input rows -top .. k - 1 - top, so "
        "the zeros before δ depend on top.",
        _transposed_attempt("sides"),
    ),
    WrongAttempt(
        "padding",
        "padding: that is section 8's symmetric answer with p = top, which ignores bottom; redo its steps "
        "with top zeros before the input and bottom zeros after it.",
        _transposed_attempt("padding"),
    ),
    WrongAttempt(
        "off-by-one",
        "off-by-one: one zero too many on each side: a valid correlation with a k-row kernel reads "
        "k - 1 rows beyond its output row, not k.",
        _transposed_attempt("off-by-one"),
    ),
]


def check_transposed_padding(fn, max_n=7, max_k=4, max_s=3, max_p=2):
    """Exercise: fn(n, k, s, (top, bottom)) -> (before, after), the zeros around dilate(δ, s).

    Every (n, k, s, top, bottom) with n ≤ max_n, s ≤ max_s, top and bottom ≤ max_p and
    k ≤ min(max_k, n + top + bottom) is checked, symmetric and asymmetric padding alike.
    The expected amounts are counted from what the padding must achieve, not from the
    closed formula: δ[0] belongs to the window over input rows −top .. k − 1 − top, and
    output u of a valid correlation reads positions u .. u + k − 1, so δ[0] must sit at
    position before = k − 1 − top; the padded length must be n + k − 1 so that the
    correlation returns n entries. Names "leftover-rows", "sides", "padding", "off-by-one".
    Derived in notebooks/04_padding.ipynb.
    """

    def expected(n, k, s, top, bottom):
        Ho = (n + top + bottom - k) // s + 1
        before = k - 1 - top
        return before, (n + k - 1) - before - ((Ho - 1) * s + 1)

    cases = [
        (n, k, s, top, bottom)
        for n in range(1, max_n + 1)
        for top in range(max_p + 1)
        for bottom in range(max_p + 1)
        for k in range(1, min(max_k, n + top + bottom) + 1)
        for s in range(1, max_s + 1)
    ]
    name = "transposed padding"
    wrong, answers = [], []  # every case runs; the first few wrong ones are printed, then the tally
    for number, (n, k, s, top, bottom) in enumerate(cases, 1):
        args = f"n={n}, k={k}, s={s}, padding=({top}, {bottom})"
        try:
            got = fn(n, k, s, (top, bottom))
        except Exception as e:  # a learner's bug must print, not crash the notebook
            wrong.append(f"  {args}: ERROR, raised {type(e).__name__}: {e}")
            continue
        if got is None:
            return not_implemented(name)
        want = expected(n, k, s, top, bottom)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or tuple(got) != want:
            wrong.append(f"  {args}: FAIL, expected (before, after) = {want}, got {got!r}")
            answers.append((number, (n, k, s, (top, bottom)), got, want))
    shown = wrong[:6] + ([f"  ... and {len(wrong) - 6} more wrong cases"] if len(wrong) > 6 else [])
    return report(
        name, shown, len(cases) - len(wrong), len(cases), likely_bugs(answers, _TRANSPOSED_ATTEMPTS)
    )


def _question_expected(dEdO, F, I_shape, s, p):  # the exercise's parameter names, for the case lines
    return _input_gradient_2d(dEdO, F, I_shape, s, p)


def _planted_question(dEdO, F, I_shape, s, p, sign=False, assign=False):
    """Exercise 3's loops with its planted bugs: -p for +p, = for +=."""
    dI = np.zeros(I_shape)
    for u in range(I_shape[0]):
        for v in range(I_shape[1]):
            for k in range(dEdO.shape[0]):
                for h in range(dEdO.shape[1]):
                    a, b = (u - k * s - p, v - h * s - p) if sign else (u - k * s + p, v - h * s + p)
                    if 0 <= a < F.shape[0] and 0 <= b < F.shape[1]:
                        dI[u, v] = dEdO[k, h] * F[a, b] + (0 if assign else dI[u, v])
    return dI


_QUESTION_BUGS = {
    "sign": ("sign", "sign: input row u is padded row u + p, so I[u, v] meets the filter entry "
             "F[u - ks + p, v - hs + p]; yours reads F[u - ks - p, ...], the gradient shifted by 2p."),
    "assign": ("accumulate", "accumulate: dI[u, v] keeps only the last output's term (= instead of +=); "
               "equation (1) sums over every output O[k, h] that I[u, v] feeds."),
}  # fmt: skip


def check_question_input_gradient(fn, seed=1, n=6, diagnose=True):
    """Exercise (find the bugs): fn(dEdO, F, I_shape, s, p) -> ∂E/∂I, the question's missing gradient.

    Compared with ``conv2d_backward`` (our ∂E/∂x). Names "sign" and "accumulate".
    Derived in notebooks/04_padding.ipynb.
    """
    cases = _random_2d_cases(seed, n)
    attempts = combinations(_QUESTION_BUGS, _planted_question)
    return check(fn, _question_expected, cases, "question input gradient", attempts, diagnose=diagnose)
