"""The images/ generator: every README figure, computed by cnnlib, byte-for-byte reproducible.

Run ``python -m cnnlib.course.images images/`` (or ``make images``) to regenerate them all.
Each figure is computed with the library (``cl.pad``, ``cl.dilate``, ``cl.rot180``,
``cl.conv2d_forward``, ``cl.conv2d_backward``, the pooling functions, ``cl.fit``) and
drawn with ``cnnlib.course.draw``, so a picture can never disagree with the code: where a
figure shows a hand-style computation, it is checked against the library before saving.

Reproducibility: fixed seeds, the Agg backend, a fixed dpi and no metadata (no
"Software" PNG chunk), so rerunning on the same package versions gives identical bytes.
Importing this package selects the Agg backend, so ``import cnnlib`` does not import it
(notebooks keep their inline backend).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ...shapes import conv_output_size
from .common import DPI, GIF_MS_PER_FRAME, H_EX, K_EX, P_EX, RC, S_EX, plt  # selects Agg before any figure
from .family import convolution_family
from .gradients import (
    conv_sliding_gif,
    delta_dilation,
    input_gradient_rot180,
    multichannel_weight_gradient,
    stride_coverage,
    weight_gradient,
)
from .modern import modern_block
from .pooling_training_im2col import im2col, pooling_routing, step_size_bound, training_loss

__all__ = [
    "FIGURES",
    "generate",
    "main",
    "gif_frame_count",
    "DPI",
    "GIF_MS_PER_FRAME",
    "H_EX",
    "K_EX",
    "P_EX",
    "S_EX",
]

FIGURES = {
    "conv_sliding.gif": conv_sliding_gif,
    "weight_gradient.png": weight_gradient,
    "multichannel_weight_gradient.png": multichannel_weight_gradient,
    "delta_dilation.png": delta_dilation,
    "stride_coverage.png": stride_coverage,
    "input_gradient_rot180.png": input_gradient_rot180,
    "pooling_routing.png": pooling_routing,
    "training_loss.png": training_loss,
    "step_size_bound.png": step_size_bound,
    "im2col.png": im2col,
    "convolution_family.png": convolution_family,
    "modern_block.png": modern_block,
}


def gif_frame_count():
    """Frames in conv_sliding.gif: one per output position of the running example."""
    n = conv_output_size(H_EX, K_EX, S_EX, P_EX)
    return n * n


def generate(outdir, names=None):
    """Write the figures into ``outdir`` (created if missing) and return their paths.

    Parameters
    ----------
    outdir : str or Path
    names : iterable of str or None
        File names from ``FIGURES``; None writes all of them.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context(RC):
        for name in FIGURES if names is None else names:
            paths.append(FIGURES[name](outdir / name))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m cnnlib.course.images", description="Regenerate the course's figures."
    )
    parser.add_argument("outdir", nargs="?", default="images", help="output folder (default: images)")
    parser.add_argument("--only", nargs="*", choices=sorted(FIGURES), help="write only these files")
    args = parser.parse_args(argv)
    for p in generate(args.outdir, args.only):
        print(p)
    return 0
