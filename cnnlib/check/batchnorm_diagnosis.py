"""The diagnosis of ``check.batchnorm_backward``: batch norm recomputed under each usual bug.

``diagnose_batchnorm`` names the bugs (``BATCHNORM_BUG_IDS``) whose model reproduces the learner's
outputs on every case, simplest first; the ids shared with the other checks ("zeros", "nan",
"float32", "shape", "constant-factor") where none does.
"""

from __future__ import annotations

import itertools

import numpy as np

from .run import relative_error

_SENTENCES = {
    "bn-mean-path": "mean path: ∂E/∂x misses the term through μ. Every x[n, c, i, j] moves its channel's "
    "mean, so ∂E/∂x gets −(1/M) Σ ∂E/∂x̂ / √(σ² + ε), the sum over N, H and W.",
    "bn-var-path": "variance path: ∂E/∂x misses the term through σ². Every x moves its channel's "
    "variance, so ∂E/∂x gets −x̂ · (1/M) Σ (∂E/∂x̂ · x̂) / √(σ² + ε), the sum over N, H and W.",
    "bn-axes": "axes: the mean and variance are taken over the wrong axes ({how}). Batch norm takes one mean "
    "and one variance per channel, over N, H and W: x.transpose(0, 2, 3, 1).reshape(-1, C) (or "
    "x.mean(axis=(0, 2, 3))), not x.reshape(-1, C).",
    "bn-unbiased": "variance: the normalisation uses the biased variance (1/M, as PyTorch and CS231n); "
    "your {where} uses 1/(M − 1). (The unbiased one belongs only in the running variance.)",
    "bn-gamma": "gamma: γ is {how} in {where}. ∂E/∂x̂ = γ δ (γ once), and ∂E/∂γ = Σ δ x̂ (no γ).",
    "bn-sum-axes": "sum: {which} is {how}. ∂E/∂γ and ∂E/∂β are sums over N, H and W: one number per channel, "
    "shape (C,).",
    "bn-count": "count: your M is {count}. A channel's statistics average its M = N·H·W values (every image, "
    "every pixel), so each 1/M of the backward (through μ and through σ²) is 1/(N·H·W).",
}

_GENERIC = {  # ids shared with the other checks (check.BUG_IDS)
    "zeros": "zeros: the answer is all zeros: not computed yet?",
    "nan": "nan: the answer holds NaN or inf: an array from np.empty never filled, or a division by 0?",
    "float32": "float32: off by float32 rounding only: check gradients in float64.",
}


_GROUPINGS = {  # how a model lays x out as rows; statistics are per column, over the rows
    "channel": (lambda a: a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1]),
                lambda r, s: r.reshape(s[0], s[2], s[3], s[1]).transpose(0, 3, 1, 2)),
    "pixel": (lambda a: a.reshape(a.shape[0], -1), lambda r, s: r.reshape(s)),
    "sample": (lambda a: a.reshape(a.shape[0], -1).T, lambda r, s: r.T.reshape(s)),
    "reshape": (lambda a: a.reshape(-1, a.shape[1]), lambda r, s: r.reshape(s)),
}  # fmt: skip
_AXES_WORDS = {
    "pixel": "per pixel: over N only, one mean per (c, i, j)",
    "sample": "per sample: over C, H and W, as layer norm does",
    "reshape": "x.reshape(-1, C) mixes channels: a row of it is not one pixel's C values",
}


def _model(a, eps, group="channel", ddof_fwd=0, ddof_bwd=0, mean_path=True, var_path=True, gamma_dx=1,
           gamma_dgamma=False, sums=(0, 2, 3), mean_sums=False, count=None, gamma_paths=None):  # fmt: skip
    """y, dx, dgamma, dbeta of batch norm with one bug switched on (defaults: the right answer)."""
    x, gamma, beta, dy = a["x"], a["gamma"], a["beta"], a["dy"]
    to_rows, back = _GROUPINGS[group]
    xr = to_rows(x)
    m = xr.shape[0]
    with np.errstate(all="ignore"):
        mu = xr.mean(axis=0)
        sd = np.sqrt(((xr - mu) ** 2).sum(axis=0) / (m - ddof_fwd) + eps)
        x_hat = back((xr - mu) / sd, x.shape)
        if group == "reshape":  # γ and β broadcast over the rows' columns, as the learner's code does
            g, b = (back(np.broadcast_to(p, xr.shape), x.shape) for p in (gamma, beta))
        else:
            g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
        y = g * x_hat + b
        dxh = to_rows(dy * g**gamma_dx)
        xh = to_rows(x_hat)
        m_bwd = {None: m, "N": x.shape[0], "size": x.size}[count]  # the backward's M (count: a wrong one)
        # ∂E/∂x̂ as the paths through μ and σ² take it (gamma_paths: γ's power there, if not the direct term's)
        dxp = dxh if gamma_paths is None else to_rows(dy * g**gamma_paths)
        dxr = (
            dxh
            - mean_path * dxp.sum(axis=0) / m_bwd
            - var_path * xh * (dxp * xh).sum(axis=0) / (m_bwd - ddof_bwd)
        )
        dx = back(dxr / sd, x.shape)
        if group == "reshape":
            dgamma, dbeta = (to_rows(dy) * xh).sum(axis=0), to_rows(dy).sum(axis=0)
        else:
            dgamma = (dy * x_hat * (g if gamma_dgamma else 1)).sum(axis=sums)
            dbeta = dy.sum(axis=sums)
        if mean_sums:
            dgamma, dbeta = dgamma / m, dbeta / m
    return {"y": y, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}


# (ids, words for the sentences, model keywords), simplest first
_BUGS = [
    (("bn-mean-path",), {}, {"mean_path": False}),
    (("bn-var-path",), {}, {"var_path": False}),
    (("bn-mean-path", "bn-var-path"), {}, {"mean_path": False, "var_path": False}),
    (("bn-unbiased",), {"where": "backward's variance term"}, {"ddof_bwd": 1}),
    (("bn-unbiased",), {"where": "forward (and backward)"}, {"ddof_fwd": 1, "ddof_bwd": 1}),
    (("bn-unbiased",), {"where": "forward"}, {"ddof_fwd": 1}),
    (("bn-gamma",), {"how": "applied twice", "where": "∂E/∂x"}, {"gamma_dx": 2}),
    (("bn-gamma",), {"how": "missing", "where": "∂E/∂x"}, {"gamma_dx": 0}),
    (("bn-gamma",), {"how": "applied once too often", "where": "∂E/∂γ"}, {"gamma_dgamma": True}),
    (("bn-sum-axes",), {"which": "∂E/∂γ or ∂E/∂β", "how": "averaged (÷ M)"}, {"mean_sums": True}),
] + [(("bn-axes",), {"how": words}, {"group": group}) for group, words in _AXES_WORDS.items()]
# bugs of a backward taken node by node (x → μ → σ² → x̂ → y), alone and in every combination
_NODE_BUGS = {
    "bn-mean-path": [({}, {"mean_path": False})],
    "bn-count": [
        ({"count": "N, the batch size (right only for 1×1 images)"}, {"count": "N"}),
        ({"count": "N·C·H·W (x.size: every channel's values)"}, {"count": "size"}),
    ],
    "bn-gamma": [
        ({"how": "missing", "where": "the paths through μ and σ² of ∂E/∂x"},
         {"gamma_paths": 0}),
        ({"how": "applied twice", "where": "the direct term of ∂E/∂x"}, {"gamma_dx": 2, "gamma_paths": 1}),
    ],
}  # fmt: skip


def _node_bug_combinations():
    """(ids, words, model keywords) for each non-empty choice of _NODE_BUGS, fewest bugs first."""
    choices = [[None, *variants] for variants in _NODE_BUGS.values()]
    combos = []
    for picked in itertools.product(*choices):
        on = [(bug, v) for bug, v in zip(_NODE_BUGS, picked, strict=True) if v is not None]
        if on:
            words = {k: w for _, (ws, _) in on for k, w in ws.items()}
            kwargs = {k: w for _, (_, kw) in on for k, w in kw.items()}
            combos.append((tuple(bug for bug, _ in on), words, kwargs))
    return sorted(combos, key=lambda c: len(c[0]))


_BUGS += [c for c in _node_bug_combinations() if c[2] not in [kw for _, _, kw in _BUGS]]


def _explains(results, kwargs, key):
    """True when the model's ``key`` equals the learner's on every case that returned it, shaped right."""
    seen = False
    for r in results:
        if key not in r.outputs:
            continue
        got, _, _ = r.outputs[key]
        want = _model(r.inputs, r.spec.eps, **kwargs)[key]
        if got.shape != want.shape or not relative_error(got, want) <= 1e-6:
            return False
        seen = True
    return seen


def _shape_words(shape, case):
    """How a ∂E/∂γ or ∂E/∂β of this shape was summed, or None when the shape says nothing."""
    dims = (("N", case.N), ("C", case.C), ("H", case.H), ("W", case.W))
    shape = tuple(shape)
    if shape == ():
        return "summed over every axis (a scalar)"
    if shape == (1, case.C, 1, 1):
        return "kept with keepdims (shape (1, C, 1, 1))"
    kept, k = [], 0
    for name, n in dims:  # the axes left over, in order (the first that fits when sizes repeat)
        if k < len(shape) and shape[k] == n:
            kept.append(name)
            k += 1
    if k != len(shape):
        return None
    summed = [name for name, _ in dims if name not in kept]
    return f"summed over {', '.join(summed)} only (shape ({', '.join(kept)}))"


def _constant_factor(results, key):
    """True when one number c makes c · expected equal the learner's ``key`` on every case."""
    got = np.concatenate([r.outputs[key][0].ravel() for r in results]).astype(np.float64)
    want = np.concatenate([r.outputs[key][1].ravel() for r in results])
    c = float(got @ want) / max(float(want @ want), 1e-300)
    return c != 0 and relative_error(got, c * want) <= 1e-6


def diagnose_batchnorm(results):
    """(ids, sentences) naming the bugs of the failing cases of ``batchnorm_backward``."""
    failed = [r for r in results if r.verdict == "fail"]
    if not failed:
        return (), []
    found = {}  # id -> sentence (the first that applies)

    def name(bug_id, sentence):
        found.setdefault(bug_id, sentence)

    for r in failed:
        for key, shape in r.got_shapes.items():
            if key in ("dgamma", "dbeta"):
                words = _shape_words(shape, r.spec)
                if words:
                    name("bn-sum-axes", _SENTENCES["bn-sum-axes"].format(which=key, how=words))
                    continue
            name("shape", f"shape: {key} has shape {shape}, expected {r.expected_shapes[key]}.")
    for key in ("y", "dx", "dgamma", "dbeta"):
        wrong = [r for r in failed if key in r.wrong and key in r.outputs]
        if not wrong:
            continue
        arrays = [r.outputs[key][0] for r in wrong]
        if all(not np.any(a) for a in arrays):
            name("zeros", _GENERIC["zeros"])
            continue
        if any(not np.all(np.isfinite(a)) for a in arrays):
            name("nan", _GENERIC["nan"])
            continue
        if all(r.outputs[key][2] == np.float32 and relative_error(*r.outputs[key][:2]) < 1e-4 for r in wrong):
            name("float32", _GENERIC["float32"])
            continue
        hits = [(ids, words) for ids, words, kw in _BUGS if _explains(results, kw, key)]
        for ids, words in hits[:1]:  # the first model that explains it (the list runs simplest first)
            for bug_id in ids:
                name(bug_id, _SENTENCES[bug_id].format(**words))
        if not hits and _constant_factor(wrong, key):
            words = f"constant factor: your {key} is a constant times the right one (a stray 1/M or 2?)."
            name("constant-factor", words)
        elif not hits:
            found.setdefault(f"unknown:{key}", None)
    if any(r.verdict == "fail" and not r.outputs and not r.got_shapes for r in failed):
        name("return", "return: your function returns something that is not (dx, dgamma, dbeta) arrays "
                       "(see the messages above).")  # fmt: skip
    known = {k: v for k, v in found.items() if not k.startswith("unknown:")}
    if not known:
        unknown = (
            "unknown: wrong in a way none of the usual batch-norm bugs explains; compare your ∂E/∂x "
            "with cnnlib.reference.batchnorm2d_backward, one node at a time."
        )
        return ("unknown",), [unknown]
    if "bn-mean-path" in known and "bn-var-path" in known:
        known["bn-var-path"] += (
            " (With both paths missing, μ and σ² were treated as constants: the eval-mode backward.)"
        )
    return tuple(known), list(known.values())
