"""Checkers for the notebooks' exercises.

A checker runs the learner's function and the library's on several random cases and
prints a verdict: "not implemented yet" while the stub returns None, the first wrong
entry (index, expected, got) when it is wrong, or how many cases passed. It returns a
bool and never raises, so stored notebooks hold no error outputs.
"""

from __future__ import annotations

import numpy as np

from . import conv, reference
from .curvature import conv_regression_design, conv_regression_hessian, largest_stable_lr  # noqa: F401
from .reference import im2col_windows
from .shapes import conv_output_size, coverage_map, dilated_route_counts, transposed_conv_padding  # noqa: F401


def compare(name, got, expected, rtol=1e-6, atol=1e-9):
    """Print whether ``got`` matches ``expected``; on a mismatch print the first wrong entry.

    Returns
    -------
    bool
    """
    if got is None:
        print(f"{name}: not implemented yet (your function returned None).")
        return False
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        print(f"{name}: wrong shape: expected {expected.shape}, got {got.shape}.")
        return False
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        print(
            f"{name}: {int(bad.sum())} of {bad.size} entries wrong; first at index {idx}: "
            f"expected {expected[idx]:.6g}, got {got[idx]:.6g}."
        )
        return False
    return True


def check(learner_fn, expected_fn, cases, name=None):
    """Run ``learner_fn(*args)`` and ``expected_fn(*args)`` on every case and compare.

    Parameters
    ----------
    learner_fn, expected_fn : callable
        expected_fn may return a tuple of arrays; learner_fn must then return the same.
    cases : list of tuple
        Positional arguments of each case.
    name : str or None

    Returns
    -------
    bool
        True when every case matches.
    """
    name = name or getattr(learner_fn, "__name__", "your function")
    for k, args in enumerate(cases):
        try:
            got = learner_fn(*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args])
        except Exception as e:  # a learner's bug must print, not crash the notebook
            print(f"{name}: case {k + 1} raised {type(e).__name__}: {e}")
            return False
        expected = expected_fn(*args)
        if got is None:
            return compare(name, None, None)
        if isinstance(expected, tuple):
            if not isinstance(got, (tuple, list)) or len(got) != len(expected):
                print(f"{name}: case {k + 1}: expected a tuple of {len(expected)} arrays.")
                return False
            pairs = list(zip(got, expected, strict=True))
        else:
            pairs = [(got, expected)]
        for part, (g, e) in enumerate(pairs):
            label = f"{name} (case {k + 1}" + (f", output {part})" if len(pairs) > 1 else ")")
            if not compare(label, g, e):
                return False
    print(f"{name}: correct on all {len(cases)} cases.")
    return True


def random_conv_cases(seed=0, n=4, *, channels=True, stride=True, padding=True):
    """Random (x, w, stride, padding) cases, small enough for loop solutions.

    With channels=False the arrays are single images (N = C = D = 1).
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(n):
        C, D = (int(rng.integers(1, 4)), int(rng.integers(1, 4))) if channels else (1, 1)
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        s = int(rng.integers(1, 4)) if stride else 1
        p = int(rng.integers(0, 3)) if padding else 0
        H, W = kh + int(rng.integers(0, 5)), kw + int(rng.integers(0, 5))
        x = rng.standard_normal((int(rng.integers(1, 3)), C, H, W))
        w = rng.standard_normal((D, C, kh, kw))
        cases.append((x, w, s, p))
    return cases


def check_correlate2d(fn, seed=0):
    """Exercise: valid cross-correlation fn(a, k) of 2-D arrays (a ★ k, no flip)."""
    rng = np.random.default_rng(seed)
    cases = [
        (rng.standard_normal((h, w)), rng.standard_normal((m, n)))
        for h, w, m, n in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3)]
    ]
    return check(fn, reference.correlate2d, cases, "correlate2d")


def check_conv_forward(fn, seed=0):
    """Exercise: fn(x, w, stride, padding) -> y, the layer's forward without bias."""
    return check(
        fn, lambda x, w, s, p: conv.conv2d_forward(x, w, None, s, p), random_conv_cases(seed), "conv forward"
    )


def check_conv_backward(fn, seed=0):
    """Exercise: fn(dy, x, w, stride, padding) -> (dx, dw, db)."""
    rng = np.random.default_rng(seed + 1)
    cases = []
    for x, w, s, p in random_conv_cases(seed):
        Ho, Wo = (
            conv_output_size(x.shape[2], w.shape[2], s, p),
            conv_output_size(x.shape[3], w.shape[3], s, p),
        )
        cases.append((rng.standard_normal((x.shape[0], w.shape[0], Ho, Wo)), x, w, s, p))
    return check(fn, conv.conv2d_backward, cases, "conv backward")


# --- notebooks 00-01 (add below; keep each notebook pair in its own section) ---


def check_output_size(fn):
    """Exercise: fn(n, k, stride, padding) -> the number of window positions along one axis.

    The cases include strides that do not divide n + 2p − k (floor, not round) and a
    kernel exactly as large as the padded input (one position). Derived in
    notebooks/00_correlation_and_notation.ipynb.
    """
    cases = [(5, 3, 1, 0), (5, 3, 2, 1), (6, 3, 2, 0), (7, 2, 3, 0), (28, 5, 1, 0), (4, 6, 1, 1)]
    cases.append((10, 3, 4, 2))  # (10 + 4 − 3) = 11 is not divisible by 4
    return check(fn, conv_output_size, cases, "output size")


def _single_kernel_cases(seed, kinds):
    """(x, w, δ) triples of single 2-D arrays, square and not, kernel up to the input's size."""
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw in [(3, 3, 2, 2), (5, 4, 3, 2), (4, 6, 1, 3), (4, 4, 4, 4)]:
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _dw_expected(x, delta):
    kh, kw = x.shape[0] - delta.shape[0] + 1, x.shape[1] - delta.shape[1] + 1
    w = np.zeros((1, 1, kh, kw))  # the values of w do not enter ∂E/∂w
    return conv.conv2d_backward(delta[None, None], x[None, None], w)[1][0, 0]


def _dx_expected(delta, w):
    H, W = delta.shape[0] + w.shape[0] - 1, delta.shape[1] + w.shape[1] - 1
    x = np.zeros((1, 1, H, W))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None, None], x, w[None, None])[0][0, 0]


def check_single_kernel_dw(fn, seed=0):
    """Exercise: fn(x, delta) -> ∂E/∂w of one kernel: x (H, W), δ (Ho, Wo) -> (kh, kw).

    Expected: ∂E/∂w[m, n] = Σ_i Σ_j δ[i, j] · x[i + m, j + n] = (x ★ δ)[m, n].
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dw_expected, _single_kernel_cases(seed, ("x", "delta")), "dE/dw")


def check_single_kernel_dx(fn, seed=0):
    """Exercise: fn(delta, w) -> ∂E/∂x of one kernel: δ (Ho, Wo), w (kh, kw) -> (H, W).

    Expected: the full cross-correlation pad(δ, k − 1) ★ rot180(w), H = Ho + kh − 1.
    Derived in notebooks/01_single_kernel.ipynb.
    """
    return check(fn, _dx_expected, _single_kernel_cases(seed, ("delta", "w")), "dE/dx")


# --- notebooks 02-03 ---


def _multi_kernel_cases(seed, kinds):
    """One image's (x, w, δ) with C input channels and D kernels; C ≠ D in most cases."""
    rng = np.random.default_rng(seed)
    cases = []
    for C, D, H, W, kh, kw in [
        (1, 2, 3, 3, 2, 2),
        (3, 2, 5, 4, 3, 2),
        (2, 4, 4, 6, 1, 3),
        (3, 3, 4, 4, 2, 3),
    ]:
        x = rng.standard_normal((C, H, W))
        w = rng.standard_normal((D, C, kh, kw))
        delta = rng.standard_normal((D, H - kh + 1, W - kw + 1))
        cases.append({"x": x, "w": w, "delta": delta})
    return [tuple(c[k] for k in kinds) for c in cases]


def _multi_dw_expected(x, delta):
    (C, H, W), (D, Ho, Wo) = x.shape, delta.shape
    w = np.zeros((D, C, H - Ho + 1, W - Wo + 1))  # the values of w do not enter ∂E/∂w
    return conv.conv2d_backward(delta[None], x[None], w)[1]


def _multi_dx_expected(delta, w):
    (Ho, Wo), (C, kh, kw) = delta.shape[1:], w.shape[1:]
    x = np.zeros((1, C, Ho + kh - 1, Wo + kw - 1))  # the values of x do not enter ∂E/∂x
    return conv.conv2d_backward(delta[None], x, w)[0][0]


def check_multi_kernel_dw(fn, seed=0):
    """Exercise: fn(x, delta) -> ∂E/∂w of a layer with C channels and D kernels, one image.

    x (C, H, W), δ (D, Ho, Wo) -> ∂E/∂w (D, C, kh, kw) with kh = H − Ho + 1.
    Expected: ∂E/∂w[d, c] = x[c] ★ δ[d], one 2-D cross-correlation per (d, c) pair.
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    return check(fn, _multi_dw_expected, _multi_kernel_cases(seed, ("x", "delta")), "dE/dw")


def check_multi_kernel_dx(fn, seed=0):
    """Exercise: fn(delta, w) -> ∂E/∂x of a layer with C channels and D kernels, one image.

    δ (D, Ho, Wo), w (D, C, kh, kw) -> ∂E/∂x (C, H, W) with H = Ho + kh − 1.
    Expected: ∂E/∂x[c] = Σ_d pad(δ[d], k − 1) ★ rot180(w[d, c]).
    Derived in notebooks/02_multi_kernel.ipynb.
    """
    return check(fn, _multi_dx_expected, _multi_kernel_cases(seed, ("delta", "w")), "dE/dx")


def _strided_cases(seed):
    """2-D (x, w, δ, s, p) with k < s, k = s, k > s, k a multiple of s or not, and r ≠ 0."""
    rng = np.random.default_rng(seed)
    cases = []
    for H, W, kh, kw, s, p in [
        (5, 5, 2, 2, 2, 0),  # k = s, one unused row and column (r = 1)
        (7, 6, 3, 2, 2, 0),  # k = 3 not a multiple of s = 2: overlapping windows
        (7, 8, 2, 1, 3, 0),  # s > k: rows between windows
        (6, 7, 4, 3, 2, 1),  # padding, non-square kernel
        (5, 4, 1, 3, 3, 2),  # 1-row kernel, p > r
    ]:
        Ho, Wo = conv_output_size(H, kh, s, p), conv_output_size(W, kw, s, p)
        x = rng.standard_normal((H, W))
        w = rng.standard_normal((kh, kw))
        delta = rng.standard_normal((Ho, Wo))
        cases.append({"x": x, "w": w, "delta": delta, "s": s, "p": p})
    return cases


def _strided_dw_expected(x, delta, k, s):
    kh, kw = (k, k) if np.ndim(k) == 0 else k
    return conv.conv2d_backward(delta[None, None], x[None, None], np.zeros((1, 1, kh, kw)), s)[1][0, 0]


def _strided_dx_expected(delta, w, H, W, s, p):
    x = np.zeros((1, 1, H, W))
    return conv.conv2d_backward(delta[None, None], x, w[None, None], s, p)[0][0, 0]


def check_dilate(fn, seed=0):
    """Exercise: fn(delta, s) -> δ (Ho, Wo) with s − 1 zeros between neighbouring entries.

    Expected shape ((Ho − 1)·s + 1, (Wo − 1)·s + 1), like ``cnnlib.dilate``.
    Derived in notebooks/03_stride.ipynb.
    """
    rng = np.random.default_rng(seed)
    cases = [
        (rng.standard_normal(shape), s) for shape, s in [((2, 2), 2), ((3, 2), 3), ((1, 4), 2), ((3, 3), 1)]
    ]
    return check(fn, conv.dilate, cases, "dilate")


def check_strided_dw(fn, seed=0):
    """Exercise: fn(x, delta, k, s) -> ∂E/∂w (kh, kw) of a strided correlation, no padding.

    x (H, W), δ (Ho, Wo), k the pair (kh, kw), stride s. Expected: the input cut to
    (Ho − 1)·s + k rows and columns, cross-correlated with dilate(δ, s).
    Derived in notebooks/03_stride.ipynb.
    """
    cases = [(c["x"], c["delta"], c["w"].shape, c["s"]) for c in _strided_cases(seed) if c["p"] == 0]
    return check(fn, _strided_dw_expected, cases, "strided dE/dw")


def check_strided_dx(fn, seed=0):
    """Exercise: fn(delta, w, H, W, s, p) -> ∂E/∂x (H, W) of a strided, padded correlation.

    δ (Ho, Wo), w (kh, kw). Expected: pad(dilate(δ, s), k − 1) ★ rot180(w), then r zero
    rows/columns appended (r = (H + 2p − k) mod s) and p cropped from each side.
    Derived in notebooks/03_stride.ipynb.
    """
    cases = [(c["delta"], c["w"], *c["x"].shape, c["s"], c["p"]) for c in _strided_cases(seed)]
    return check(fn, _strided_dx_expected, cases, "strided dE/dx")


def check_coverage(fn):
    """Exercise: fn(n, k, s, p) -> int array (n,): how many windows read each input position.

    One axis of ``cnnlib.shapes.coverage_map`` (the 2-D map is the outer product of
    the row and the column counts). Derived in notebooks/03_stride.ipynb.
    """

    cases = [(7, 3, 2, 0), (8, 4, 2, 1), (7, 2, 3, 0), (9, 3, 3, 1), (6, 5, 2, 2), (5, 1, 1, 0)]
    return check(fn, lambda n, k, s, p: coverage_map(n, 1, (k, 1), (s, 1), (p, 0))[:, 0], cases, "coverage")


# --- notebook 04 ---


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


def padded_input_gradient(dy, w, x_hw, stride=1, padding=0):
    """∂E/∂x of one single-channel layer through the padded input: scatter, then crop.

    The library's solution of the first exercise of notebooks/04_padding.ipynb.

    Parameters
    ----------
    dy : ndarray of shape (Ho, Wo)
        δ = ∂E/∂y.
    w : ndarray of shape (kh, kw)
    x_hw : (H, W)
        Size of the forward input before padding.
    stride, padding : int
        s and p, the same along both axes.

    Returns
    -------
    ndarray of shape (H, W)

    Notes
    -----
    ∂E/∂xp[i·s + m, j·s + n] += δ[i, j] · w[m, n] for every output (i, j) (each output
    adds δ[i, j]·w onto its window of the padded input), then
    ∂E/∂x[u, v] = ∂E/∂xp[u + p, v + p]: the border is cropped because the zeros are
    constants, not inputs. Derived in notebooks/04_padding.ipynb.
    """
    dy, w = np.asarray(dy, dtype=float), np.asarray(w, dtype=float)
    (H, W), (kh, kw), s, p = x_hw, w.shape, stride, padding
    dxp = np.zeros((H + 2 * p, W + 2 * p))
    for i in range(dy.shape[0]):
        for j in range(dy.shape[1]):
            dxp[i * s : i * s + kh, j * s : j * s + kw] += dy[i, j] * w
    return dxp[p : p + H, p : p + W]


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


def check_padded_input_gradient(fn, seed=0, n=8):
    """Exercise: fn(dy, w, (H, W), s, p) -> ∂E/∂x (H, W), via ∂E/∂xp and a crop.

    Compared with ``conv2d_backward`` on single-channel cases (non-square, with stride,
    padding and 1x1 kernels with p > k − 1). Derived in notebooks/04_padding.ipynb.
    """
    return check(fn, _input_gradient_2d, _random_2d_cases(seed, n), "padded input gradient")


def check_transposed_padding(fn, max_n=7, max_k=4, max_s=3, max_p=2):
    """Exercise: fn(n, k, s, (top, bottom)) -> (before, after), the zeros around dilate(δ, s).

    Every (n, k, s, top, bottom) with n ≤ max_n, s ≤ max_s, top and bottom ≤ max_p and
    k ≤ min(max_k, n + top + bottom) is checked, symmetric and asymmetric padding alike.
    The expected amounts are counted from what the padding must achieve, not from the
    closed formula: δ[0] belongs to the window over input rows −top .. k − 1 − top, and
    output u of a valid correlation reads positions u .. u + k − 1, so δ[0] must sit at
    position before = k − 1 − top; the padded length must be n + k − 1 so that the
    correlation returns n entries. Derived in notebooks/04_padding.ipynb.
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
    for n, k, s, top, bottom in cases:
        args = f"n={n}, k={k}, s={s}, padding=({top}, {bottom})"
        try:
            got = fn(n, k, s, (top, bottom))
        except Exception as e:  # a learner's bug must print, not crash the notebook
            print(f"{name}: {args} raised {type(e).__name__}: {e}")
            return False
        if got is None:
            return compare(name, None, None)
        want = expected(n, k, s, top, bottom)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or tuple(got) != want:
            print(f"{name}: wrong for {args}: expected (before, after) = {want}, got {got!r}.")
            return False
    print(f"{name}: correct on all {len(cases)} cases.")
    return True


def check_question_input_gradient(fn, seed=1, n=6):
    """Exercise: fn(dEdO, F, I_shape, s, p) -> ∂E/∂I, the stride-and-padding question's missing gradient.

    Compared with ``conv2d_backward`` (our ∂E/∂x). Derived in notebooks/04_padding.ipynb.
    """
    return check(fn, _input_gradient_2d, _random_2d_cases(seed, n), "question input gradient")


# --- notebook 05 ---


def random_pool_cases(seed=0, *, ties=True):
    """(dy, x, size, stride) cases for pooling backward, small enough for loops.

    They cover stride = size, overlapping windows (stride < size), stride > size with
    leftover rows, non-square windows and (with ``ties``) inputs of small integers,
    where windows hold several equal maxima (the first one in row-major order wins).
    """
    from .shapes import check_pool_args

    rng = np.random.default_rng(seed)
    shapes = [((1, 1, 4, 4), 2, None), ((2, 2, 5, 5), 3, 1), ((1, 3, 7, 6), (2, 3), (3, 2)),
              ((2, 1, 6, 6), 2, 1)]  # fmt: skip
    cases = []
    for k, (shape, size, stride) in enumerate(shapes):
        if ties and k % 2 == 1:
            x = rng.integers(0, 3, size=shape).astype(float)  # many equal maxima
        else:
            x = rng.standard_normal(shape)
        out_shape = check_pool_args(x, size, stride)[3]
        cases.append((rng.standard_normal(out_shape), x, size, stride))
    return cases


def check_maxpool_backward(fn, seed=0):
    """Exercise: fn(dy, x, size, stride) -> dx, max pooling backward (NCHW).

    Each window's δ goes to its maximum, the first one in row-major order on ties;
    overlapping windows add up. Compared with ``cnnlib.maxpool2d_backward``.
    """
    from .pool import maxpool2d_backward

    return check(fn, maxpool2d_backward, random_pool_cases(seed), "maxpool backward")


def check_avgpool_backward(fn, seed=0):
    """Exercise: fn(dy, x, size, stride) -> dx, average pooling backward (NCHW)."""
    from .pool import avgpool2d_backward

    return check(fn, avgpool2d_backward, random_pool_cases(seed, ties=False), "avgpool backward")


def check_kernel_and_bias_grads(fn, seed=0):
    """Exercise: fn(x, delta) -> (dw, db) for a stride-1, unpadded convolution layer.

    x : (N, C, H, W), delta : (N, D, Ho, Wo); dw : (D, C, H − Ho + 1, W − Wo + 1),
    db : (D,), one shared bias per kernel. Compared with ``cnnlib.conv2d_backward``.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, D, H, W, kh, kw in [(1, 1, 3, 8, 8, 5, 5), (2, 2, 3, 6, 7, 3, 2), (3, 1, 1, 5, 5, 1, 1)]:
        cases.append((rng.standard_normal((N, C, H, W)), rng.standard_normal((N, D, H - kh + 1, W - kw + 1))))

    def expected(x, delta):
        kh, kw = x.shape[2] - delta.shape[2] + 1, x.shape[3] - delta.shape[3] + 1
        w = np.zeros((delta.shape[1], x.shape[1], kh, kw))
        _, dw, db = conv.conv2d_backward(delta, x, w)
        return dw, db

    return check(fn, expected, cases, "kernel and bias gradients")


# --- notebook 06 ---


def check_lr_max(fn, seed=0):
    """Exercise: fn(x, kernel_size, stride, padding) -> 2/λmax of the conv regression's Hessian.

    Cases mix single- and multi-channel inputs, strides 1-2, padding 0-1, and inputs
    with a positive mean (like raw pixel intensities) as well as centred ones.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for C, H, W, k, s, p, mean in [(1, 5, 5, 3, 1, 0, 0.0), (1, 6, 7, 3, 2, 1, 0.5), (2, 5, 4, 2, 1, 1, 1.0)]:
        cases.append((mean + rng.standard_normal((3, C, H, W)), k, s, p))
    return check(fn, largest_stable_lr, cases, "lr_max")


# --- notebook 07 ---


def check_im2col(fn, seed=0):
    """Exercise: fn(xp, kh, kw, s) -> the windows (N, C, kh, kw, Ho, Wo) of a padded input.

    Cases: strides 1-3, kernels smaller and larger than the stride, non-square
    kernels and inputs, and rows left over when (Hp − kh) mod s ≠ 0.
    Expected: ``im2col_windows``. Derived in notebooks/07_fast_convolution.ipynb.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for N, C, Hp, Wp, kh, kw, s in [
        (1, 1, 4, 4, 2, 2, 1),
        (2, 3, 6, 5, 3, 2, 1),
        (1, 2, 7, 8, 3, 3, 2),  # (7 - 3) mod 2 = 0, (8 - 3) mod 2 = 1: a column left over
        (2, 1, 8, 7, 2, 1, 3),  # s > k: input rows no window reads
        (1, 2, 5, 9, 1, 4, 2),
    ]:
        cases.append((rng.integers(-9, 10, size=(N, C, Hp, Wp)).astype(float), kh, kw, s))
    return check(fn, im2col_windows, cases, "im2col")


def _counted_dilated_route(Ho, Wo, kh, kw, s):
    """The same counts by building pad(dilate(1, s), k − 1) and counting the zeros under every window."""
    full = conv.pad(conv.dilate(np.ones((Ho, Wo)), s), (kh - 1, kw - 1))
    windows = np.lib.stride_tricks.sliding_window_view(full, (kh, kw))
    return windows.size, int(np.count_nonzero(windows == 0))


def check_dilated_route_counts(fn):
    """Exercise: fn(Ho, Wo, kh, kw, s) -> (total, zero) multiply-adds of the rot180 route.

    Expected: counted by building the dilated, padded δ (of ones) and its windows.
    Derived in notebooks/07_fast_convolution.ipynb.
    """
    cases = [(2, 2, 2, 2, 1), (3, 3, 3, 3, 2), (4, 5, 3, 2, 3), (1, 4, 2, 3, 2), (6, 6, 1, 1, 4)]
    cases.append((5, 3, 4, 4, 2))  # k > s with overlapping windows
    return check(fn, _counted_dilated_route, cases, "rot180-route counts")


def check_input_gradient(fn, seed=0):
    """Exercise: fn(dy, w, x_shape, stride, padding) -> ∂E/∂x (N, C, H, W) of a conv layer.

    The signature of ``cnnlib.reference.conv2d_backward_input``. Cases include strides
    larger than the kernel (phases of the input no kernel weight reaches) and padding.
    Derived in notebooks/07_fast_convolution.ipynb.
    """
    rng = np.random.default_rng(seed + 1)
    cases = []
    for x, w, s, p in random_conv_cases(seed, n=5) + [
        (np.zeros((1, 2, 7, 7)), np.zeros((2, 2, 1, 2)), 3, 0),
        (np.zeros((2, 1, 8, 6)), np.zeros((3, 1, 3, 3)), 2, 1),
    ]:
        w = rng.standard_normal(w.shape)
        Ho = conv_output_size(x.shape[2], w.shape[2], s, p)
        Wo = conv_output_size(x.shape[3], w.shape[3], s, p)
        cases.append((rng.standard_normal((x.shape[0], w.shape[0], Ho, Wo)), w, x.shape, s, p))

    def expected(dy, w, x_shape, s, p):
        return conv.conv2d_backward(dy, np.zeros(x_shape), w, s, p)[0]

    return check(fn, expected, cases, "dE/dx")
