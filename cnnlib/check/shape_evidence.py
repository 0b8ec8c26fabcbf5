"""Evidence in an output's shape: the padded shape (no crop), the covered rows only (stride),
an output size computed with the wrong rule or from the other axis (height/width).

``shape_finding`` turns one output of the wrong shape into a sentence and its id.
"""

from __future__ import annotations

import numpy as np

from ..shapes import conv_output_size

__all__ = ["shape_finding"]


def _shape_sentence(op, key, r, conv):
    """A sentence for an output of the wrong shape, naming the bug when the shape tells it."""
    label, got = conv.label(key), r.got_shapes[key]
    case = r.spec
    if key == "dx" and op == "conv_backward":
        (ph, pw), (N, C, H, W) = case.padding, r.inputs["x"].shape
        if got == conv.to_layout("dx", (N, C, H + 2 * ph, W + 2 * pw)):
            return (
                f"crop: {label} has the padded shape {got}; "
                "remove the p rows and columns of padding from each side."
            )
        if 0 in got and (ph == 0 or pw == 0):
            return (
                f"crop: {label} has shape {got} at padding 0: [p:-p] is empty when p = 0 (-0 is 0); "
                "crop with [p:p + H] or skip the crop when p = 0."
            )
        Ho, Wo = case.out_hw
        (sh, sw) = case.stride
        covered = (N, C, (Ho - 1) * sh + case.kh - 2 * ph, (Wo - 1) * sw + case.kw - 2 * pw)
        if got == conv.to_layout("dx", covered):
            return (
                f"stride: {label} has shape {got}, the rows the windows cover; when (H + 2p - k) mod s "
                "!= 0 the last rows belong to no window but are still part of x (gradient 0)."
            )
    if (
        key == "db"
        and int(np.prod(got)) == r.inputs["dy"].shape[0] * r.inputs["dy"].shape[1] > 0
        and len(got) >= 2
    ):
        return (
            f"bias: {label} has shape {got}: sum δ over the batch as well "
            "(∂E/∂b[d] = Σ_n Σ_i Σ_j δ[n, d, i, j])."
        )
    if key == "y":
        (N, C, H, W), D = r.inputs["x"].shape, r.inputs["w"].shape[0]
        (sh, sw), (ph, pw), kh, kw = case.stride, case.padding, case.kh, case.kw
        Ho_from_W, Wo_from_H = case.out_hw
        if H != W and len(got) == 4:  # one of the two from the other axis: whichever the shape shows
            got_hw = tuple(got[1:3]) if conv.name == "coursera" else tuple(got[2:])
            if got_hw[1] == conv_output_size(H, kw, sw, pw):
                Wo_from_H = got_hw[1]
            elif got_hw[0] == conv_output_size(W, kh, sh, ph):
                Ho_from_W = got_hw[0]
        alts = {
            "stride: the output size uses stride 1; Ho = floor((H + 2p - kh) / s) + 1.": (
                (H + 2 * ph - kh) + 1,
                (W + 2 * pw - kw) + 1,
            ),
            "padding: the output size ignores the padding; Ho = floor((H + 2p - kh) / s) + 1.": (
                (H - kh) // sh + 1,
                (W - kw) // sw + 1,
            ),
            "stride: the output size rounds up; Ho = floor((H + 2p - kh) / s) + 1 rounds down.": (
                -(-(H + 2 * ph - kh) // sh) + 1,
                -(-(W + 2 * pw - kw) // sw) + 1,
            ),
        }
        alts[
            "height/width: the output width is computed from the height (Wo from H, or Ho from W); "
            "Wo = floor((W + 2p - kw) / s) + 1 uses the width."
        ] = (Ho_from_W, Wo_from_H)
        for text, hw in alts.items():
            if got == conv.to_layout("y", (N, D, *hw)) and hw != case.out_hw:
                keyword, rule = text.split(": ", 1)
                return f"{keyword}: {label} has shape {got}; {rule}"
    right = {
        "dx": r.inputs["x"].shape,
        "dw": r.inputs["w"].shape if "w" in r.inputs else None,
        "db": r.inputs["w"].shape[:1] if "w" in r.inputs else None,
    }.get(key)
    if key == "y":
        right = (r.inputs["x"].shape[0], r.inputs["w"].shape[0], *case.out_hw)
    if right is not None and len(right) == 4 and got == conv.to_layout(key, right[:2] + right[2:][::-1]):
        return (
            f"height/width: {label} has shape {got}, its height and width swapped; only square "
            "shapes would work."
        )
    if key == "dw" and right is not None and got == conv.to_layout(key, (right[1], right[0]) + right[2:]):
        return f"channel: {label} has shape {got}, its filter and channel axes swapped."
    want = conv.to_layout(key, right) if right is not None else None
    expected = f", expected {want}" if want is not None else ""
    return f"{label} has the wrong shape {got}{expected}."


# the keyword a shape sentence starts with -> its id
_SHAPE_IDS = {"crop": "crop", "stride": "stride", "padding": "padding", "bias": "bias",
              "height/width": "height-width", "channel": "channel"}  # fmt: skip


def _shape_id(sentence):
    return _SHAPE_IDS.get(sentence.split(":", 1)[0], "shape")


def shape_finding(op, key, r, conv):
    """(id, sentence) for output ``key`` of case ``r``, whose shape is wrong."""
    text = _shape_sentence(op, key, r, conv)
    return _shape_id(text), text
