"""The words of the diagnosis: one sentence per bug, one hint per kind of case, and the
stable id of each (``BUG_IDS``), which tests and exercise checkers match instead of words.

Each sentence starts with the keyword a learner can search their code for ("flip",
"stride", "crop", "+=", "channel", "bias", "tie", "square"/"height/width") and says
what the right rule is.
"""

from __future__ import annotations

__all__ = ["BUG_IDS", "FEATURE_HINTS", "TAG_IDS", "tag_id", "tag_sentence"]

# every id a diagnosis can carry (report.bugs), with what it means; documented in check/__init__
BUG_IDS = {
    "stride": "the stride is ignored or misapplied (windows at i + m, rows no window reaches, δ not dilated)",
    "divisible": "only the cases whose stride does not divide (H + 2p - k) go wrong",
    "pairs": "only the cases whose stride, padding or window is an (h, w) pair go wrong (code for ints)",
    "crop": "the padding is cropped wrongly ([p:-p] at p = 0, the wrong side, not at all)",
    "padding": "the padding is ignored or wrong",
    "flip": "the kernel is flipped (rot180) once too often or too few, or along the wrong axes",
    "accumulate": "= where += is needed: overlapping windows or the loop over filters overwrite",
    "channel": "the input-channel and filter indices are swapped (pooling: the channels are mixed)",
    "bias": "the bias gradient is averaged, partial, of the wrong shape; or the forward's bias is wrong",
    "batch": "only one sample, or a mean over the batch, where the sum over every sample is needed",
    "tie": "a window's δ goes to every tied maximum instead of one",
    "average": "max pooling spreads δ over the window like average pooling",
    "divisor": "average pooling divides δ by the wrong window size",
    "height-width": "height and width (H/W, kh/kw, Ho/Wo) are swapped or one is used for both",
    "window-index": "δ read at the window's input corner (h·s, w·s) instead of its position (h, w)",
    "zeros": "the answer is all zeros: not computed yet?",
    "nan": "the answer holds NaN or inf: an array from np.empty never filled?",
    "buffer": "the outputs are views of one reused buffer, overwritten by later calls",
    "shape": "an output has the wrong shape, for no recognised reason",
    "constant-factor": "the answer is a constant times the right one",
    "float32": "the answer is off by float32 rounding only",
    "unknown": "wrong in a way none of the classic bugs explains",
    "exception": "the code raises an exception that is not a refusal (IndexError, a NumPy shape error, ...)",
    "refused-core": "the code refuses cases the check needs (N, C, D > 1, strides 1 and 2+, padding 0, 1+)",
    "signature": "the function is called with arguments it does not take",
    "return": "the function returns something that is not the convention's tuple of arrays",
    "not-run": "the time limit ended the check before every case ran",
    "no-case": "no case ran",
}

# the bug models' tags (bug_models.py) -> the id they are reported under
TAG_IDS = {
    "flip rows": "flip",
    "flip cols": "flip",
    "flip channel axes": "flip",
    "dx transposed": "height-width",
    "bound by height": "height-width",
    "bound by width": "height-width",
    "kernel transposed": "height-width",
    "crop end": "crop",
    "crop start": "crop",
    "=": "accumulate",
    "= per d": "accumulate",
    "= winner": "accumulate",
    "= per sample": "accumulate",
    "dw / N": "batch",
    "dw first sample": "batch",
    "dw last sample": "batch",
    "no bias": "bias",
    "bias per channel": "bias",
    "all ties": "tie",
    "divide kh*kh": "height-width",
    "divide kw*kw": "height-width",
    "no divide": "divisor",
    "channel mix": "channel",
}


def tag_id(tag):
    """The id (a key of ``BUG_IDS``) a bug model's tag is reported under."""
    if tag.startswith("db"):
        return "bias"
    return TAG_IDS.get(tag, tag)


# (feature, id, hint); the first exact match in this order is the one named (a pool's non-square
# windows are its (h, w) pairs too: in CS231n's convention they are named height/width)
FEATURE_HINTS = [
    (
        "padding 0",
        "crop",
        "crop: a crop written [p:-p] keeps nothing when p = 0 (-0 is 0); crop the padding "
        "with [p:p + H] (or skip the crop when p = 0).",
    ),
    (
        "C != D",
        "channel",
        "channel: the input-channel index c and the filter index d are mixed up somewhere "
        "(w[c, d] for w[d, c], or C and D swapped as loop bounds); square channel counts hide it.",
    ),
    (
        "tied maxima",
        "tie",
        "tie: when a window holds several equal maxima, its δ must go to one of them, not each.",
    ),
    (
        "non-square input",
        "height-width",
        "square: height and width are swapped somewhere (H for W, rows for columns); "
        "only square shapes work.",
    ),
    (
        "non-square kernel",
        "height-width",
        "square: the kernel's height and width are swapped somewhere (kh for kw); only square kernels work.",
    ),
    (
        "(h, w) pairs",
        "pairs",
        "pairs: these cases pass stride, padding or window as (h, w) pairs; code written for one int "
        "per hyper-parameter fails there. If your assignment passes ints, check with assume=['int']; "
        "else unpack them: sh, sw = stride (and the same for padding).",
    ),
    (
        "overlapping windows",
        "accumulate",
        "+=: where windows overlap a pixel gets contributions from several windows; "
        "accumulate them with += (overlap).",
    ),
    (
        "rows no window reaches",
        "stride",
        "stride: when (H + 2p - k) mod s != 0 the last rows or columns belong to no "
        "window; output sizes use floor, and those rows stay in dx with gradient 0.",
    ),
    (
        "stride > kernel",
        "stride",
        "stride: with the stride larger than the window some pixels belong to no window.",
    ),
    (
        "stride > 1",
        "stride",
        "stride: check where the stride places each window (row i·s + m) and, in the "
        "full-correlation form, that δ is dilated by s.",
    ),
    (
        "padding > 0",
        "padding",
        "padding: check the zero padding and the crop (p rows and columns from each side).",
    ),
    ("N > 1", "batch", "batch: only batches of one work; loop over (or sum over) every sample n."),
    ("stride != size", "stride", "stride: only stride = window size works; windows start at i·s."),
    ("C == D", "channel", "channel: only C != D works, check the channel indices."),
    ("stride 1", "stride", "stride: only strides above 1 work."),
]


def tag_sentence(tag, key, op, label):
    """One sentence naming the bug ``tag`` found in output ``key`` (shown as ``label``)."""
    fwd = op == "conv_forward"
    pool = op.startswith(("maxpool", "avgpool"))
    if tag == "flip":
        if fwd:
            return (
                "flip: your forward flips the kernel (rot180, a true convolution); the layer is a "
                "cross-correlation: y[i, j] = Σ w[m, n]·xp[i·s + m, j·s + n], no flip."
            )
        if key == "dw":
            return (
                f"flip: {label} is rot180 of the right gradient; ∂E/∂w[m, n] = Σ δ[i, j]·xp[i·s + m, "
                "j·s + n] pairs δ with the input at offset (m, n), with no flip."
            )
        return (
            f"flip: {label} matches a kernel flipped by rot180 once too often (or once too few): "
            "scattering δ·w into each window needs no flip; the full correlation of δ needs rot180(w) once."
        )
    if tag in ("flip rows", "flip cols"):
        axis = "rows" if tag == "flip rows" else "columns"
        return (
            f"flip: {label} matches a kernel flipped along its {axis} only; rot180 flips both axes "
            "(w[..., ::-1, ::-1])."
        )
    if tag == "flip channel axes":
        return (
            f"flip: {label} matches a kernel rotated over its channel axes instead of its spatial ones "
            "(np.rot90(w, 2, axes=(0, 1)) on an NCHW kernel (D, C, kh, kw) reverses the filters and the "
            "channels); rot180 flips the last two axes: np.rot90(w, 2, axes=(2, 3)) or w[:, :, ::-1, ::-1]."
        )
    if tag == "dx transposed":
        return (
            f"height/width: {label} holds the right values with its rows and columns swapped (its height "
            "and width axes transposed); non-square inputs give it the wrong shape."
        )
    if tag in ("bound by height", "bound by width"):
        col, other = ("column", "height") if tag == "bound by height" else ("row", "width")
        return (
            f"height/width: {label} is 0 in every window whose {col} end passes the input's {other}: a loop "
            f"bound compares the {col} offset with the {other} (n_H for n_W, or H for W); "
            "cases with H != W show it."
        )
    if tag == "kernel transposed":
        return (
            f"height/width: {label} matches a kernel with its height and width swapped (w[..., n, m] "
            "for w[..., m, n]); it only goes unnoticed with square kernels."
        )
    if tag == "channel":
        if key == "dw":
            return (
                f"channel: {label}[d, c] holds the gradient of w[c, d]; the filter index d comes "
                "first, the input channel c second."
            )
        return (
            f"channel: {label} matches w with its channel indices swapped (w[c, d] used for w[d, c]); "
            "it runs only when C == D and fails with an IndexError or a shape error otherwise."
        )
    if tag == "channel mix":
        return (
            f"channel: {label}[c] holds the sum of every channel's share, as if each output channel read all "
            "C input channels (one averaging kernel for every (d, c) pair, not only d = c); pooling never "
            "mixes channels: each channel is averaged on its own."
        )
    if tag == "stride":
        if pool:
            return (
                f"stride: {label} matches windows placed at row i instead of i·s (stride ignored); "
                "window (i, j) covers rows i·s .. i·s + kh - 1."
            )
        if fwd:
            return (
                "stride: your forward moves the window by 1 instead of by the stride s; output (i, j) "
                "reads rows i·s .. i·s + kh - 1."
            )
        return (
            f"stride: {label} matches windows at i + m instead of i·s + m (stride ignored); with "
            "stride s, output (i, j) touches input rows i·s + m (dilate δ by s in the correlation form)."
        )
    if tag in ("crop end", "crop start"):
        kept = "first" if tag == "crop end" else "last"
        return (
            f"crop: {label} is the padded gradient cropped on the wrong side (you kept its {kept} H "
            "rows and W columns); the padding is p on each side: keep dxp[p:p + H, p:p + W]."
        )
    if tag in ("=", "= per d", "= winner", "= per sample"):
        if key == "dw":
            return (
                f"+=: {label} holds only the last window's contribution (= instead of +=); "
                "accumulate over every position and sample."
            )
        if tag == "= per d":
            return (
                f"+=: {label} keeps only the last filter's contribution (= inside the loop over d); "
                "accumulate with +=, also where windows overlap."
            )
        return (
            f"+=: where windows overlap, {label} keeps only the last window's contribution (= instead "
            "of +=); accumulate every window's share with +=."
        )
    if tag == "dw / N":
        return f"batch: {label} is divided by the batch size N; it is the plain sum over the batch."
    if tag in ("dw first sample", "dw last sample"):
        return f"batch: {label} comes from one sample only; sum the contributions of every sample n."
    if tag.startswith("db"):
        why = {
            "db / N": "is divided by the batch size N",
            "db mean": "is the mean of δ over the batch and positions",
            "db / (Ho·Wo)": "is divided by the number of output positions Ho·Wo",
            "db first sample": "is summed over the first sample only",
            "db last sample": "is summed over the last sample only",
            "db =": "holds only the last δ (= instead of +=)",
        }[tag]
        return f"bias: {label} {why}; ∂E/∂b[d] = Σ_n Σ_i Σ_j δ[n, d, i, j], a plain sum (not averaged)."
    if tag == "no bias":
        return "bias: your forward does not add the bias b[d]."
    if tag == "bias per channel":
        return "bias: your forward adds b[d] once per input channel (C times); add it once per output entry."
    if tag == "all ties":
        return (
            f"tie: where a window holds several equal maxima, {label} gets δ at every one of them "
            "(mask = window == max); route δ to one maximum only (np.argmax picks the first)."
        )
    if tag == "average":
        return (
            f"{label} spreads δ evenly over each window (average pooling); "
            "max pooling routes δ to the maximum."
        )
    if tag in ("divide kh*kh", "divide kw*kw"):
        return f"square: {label} divides δ by {tag[7:]} instead of kh*kw (height times width of the window)."
    if tag == "no divide":
        return f"{label} is not divided by the window size: each of the kh·kw pixels gets δ / (kh·kw)."
    return f"{label}: {tag}."
