"""The timings of notebook 07 ("Fast convolution"), kept out of it: they depend on the machine.

Two tables, as ratios of interleaved medians:

1. speed-up of ``cnnlib.conv`` over the loops of ``cnnlib.reference`` on the notebook's small layer
   (x 2x3x10x10, 4 kernels 3x3, stride 1, padding 1), forward and backward;
2. the two routes to ∂E/∂x at strides 1, 2, 3 on a larger layer (4 images, 8 channels, 8 kernels
   3x3, 32x32, padding 1): "dilate, pad, correlate with rot180(w)" (built from ``cl.dilate``,
   ``cl.pad``, ``cl.rot180`` and ``cl.conv2d_forward``) against ``cl.conv2d_backward``'s
   accumulation over kernel offsets, with the share of the rot180 route's multiply-adds that are by zero.

Usage: ``python benchmarks/bench_routes.py [--repeats N]``. The notebook quotes the ranges seen here.
"""

from __future__ import annotations

import argparse

import numpy as np
from _bench import interleaved_medians, machine_note

import cnnlib as cl


def rot180_route(dy, w, x_shape, stride, padding):
    """∂E/∂x as pad(dilate(δ, s), k − 1) ★ rot180(w) (channels swapped), then r zeros and the crop."""
    N, C, H, W = x_shape
    kh, kw = w.shape[2:]
    full = cl.pad(cl.dilate(dy, stride), (kh - 1, kw - 1))
    w_t = cl.rot180(w).transpose(1, 0, 2, 3)  # (C, D, kh, kw): the input channels are the outputs now
    core = cl.conv2d_forward(full, w_t)
    dxp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    dxp[:, :, : core.shape[2], : core.shape[3]] = core
    return dxp[:, :, padding : padding + H, padding : padding + W]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved samples per function")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(machine_note())

    x, w = rng.standard_normal((2, 3, 10, 10)), rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 10, 10))
    t = interleaved_medians(
        {
            "forward, loops": lambda: cl.reference.conv2d_forward(x, w, None, 1, 1),
            "forward, cnnlib.conv": lambda: cl.conv2d_forward(x, w, None, 1, 1),
            "backward, loops": lambda: cl.reference.conv2d_backward(dy, x, w, 1, 1),
            "backward, cnnlib.conv": lambda: cl.conv2d_backward(dy, x, w, 1, 1),
        },
        args.repeats,
    )
    med = {k: float(np.median(v)) for k, v in t.items()}
    print("\nspeed-up of cnnlib.conv over the loops (x 2x3x10x10, 4 kernels 3x3, s=1, p=1)")
    for what in ("forward", "backward"):
        print(f"  {what:8s} {med[f'{what}, loops'] / med[f'{what}, cnnlib.conv']:8.0f}x")

    x, w = rng.standard_normal((4, 8, 32, 32)), rng.standard_normal((8, 8, 3, 3))
    print("\n s   multiply-adds by zero   time(rot180 route) / time(accumulate, cnnlib.conv)")
    for s in (1, 2, 3):
        Ho = cl.conv_output_size(32, 3, s, 1)
        dy = rng.standard_normal((4, 8, Ho, Ho))
        assert cl.rel_error(rot180_route(dy, w, x.shape, s, 1), cl.conv2d_backward(dy, x, w, s, 1)[0]) < 1e-12
        t = interleaved_medians(
            {
                "rot180": lambda dy=dy, s=s: rot180_route(dy, w, x.shape, s, 1),
                "accumulate": lambda dy=dy, s=s: cl.conv2d_backward(dy, x, w, s, 1),
            },
            args.repeats,
        )
        total, zero = cl.shapes.dilated_route_counts(Ho, Ho, 3, 3, s)
        ratio = np.median(t["rot180"]) / np.median(t["accumulate"])
        print(f" {s}   {zero / total:21.0%}   {ratio:8.1f}x")
    print("\n(cnnlib.conv2d_backward also computes dw and db: its own route's share is smaller still)")


if __name__ == "__main__":
    main()
