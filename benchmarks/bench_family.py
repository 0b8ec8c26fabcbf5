"""The convolution family (dilated, grouped, depthwise, transposed) vs the plain convolution and PyTorch.

    python benchmarks/bench_family.py [--repeats 7] [--dtypes float32,float64]

Each row times one forward + backward (``conv2d_forward`` then ``conv2d_backward``, or the
``conv_transpose2d_*`` pair) and prints, as medians of interleaved rounds with the spread of
the per-round ratios and the ratio of the minima:

- vs plain: its time over the plain convolution with the same N, C, D, kernel and output
  size (the bound the family keeps: a dilated or grouped convolution costs no more, ratio <= ~1;
  a grouped one does 1/G of the multiply-adds, so it may cost less). The transposed
  convolution is compared with the convolution it transposes (the same multiply-adds);
- vs torch: its time over PyTorch's (2 threads) on the same arguments, when torch imports.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from _bench import fmt_ratio, import_torch, interleaved_medians, machine_note, ratio, torch_note

import cnnlib as cl

# name: (N, C, D, H, k, stride, padding, dilation, groups, the plain twin's (H, padding))
CASES = {
    "dilated d=2": (32, 16, 32, 32, 3, 2, 2, 2, 1, (32, 1)),
    "dilated d=2, s=1": (32, 16, 32, 32, 3, 1, 2, 2, 1, (32, 1)),
    "dilated d=4, s=1": (16, 16, 16, 24, 3, 1, 4, 4, 1, (24, 1)),
    "grouped G=4": (32, 16, 32, 32, 3, 2, 1, 1, 4, (32, 1)),
    "depthwise G=C=D=32": (32, 32, 32, 32, 3, 1, 1, 1, 32, (32, 1)),
    "dilated grouped d=2, G=2": (32, 16, 32, 32, 3, 2, 2, 2, 2, (32, 1)),
}
# transposed: (N, C_in, C_out, H, k, stride, padding, output_padding); twin: conv2d(C_out -> C_in)
TRANSPOSED = {"transposed s=2 (16->32 px)": (32, 32, 16, 16, 3, 2, 1, 1)}


def conv_run(lib, x, w, b, dy, args):
    y = lib.conv2d_forward(x, w, b, *args)
    return y, *lib.conv2d_backward(dy, x, w, *args)


def transposed_run(lib, x, w, b, dy, args):
    y = lib.conv_transpose2d_forward(x, w, b, *args)
    return y, *lib.conv_transpose2d_backward(dy, x, w, *args)


def torch_run(torch, fn, x, w, b, dy, args):
    tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))

    def run():
        xx, ww, bb = (t.detach().requires_grad_() for t in (tx, tw, tb))
        y = fn(xx, ww, bb, *args)
        y.backward(tdy)
        return y, xx.grad, ww.grad, bb.grad

    return run


def arrays(x_shape, w_shape, b_len, forward, args, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, (b_len,)))
    dy = rng.standard_normal(forward(x, w, b, *args).shape).astype(dtype)
    return x, w, b, dy


def rows(dtype):
    """(name, cnnlib run, plain twin run, torch fn, arrays, args) per case."""
    for name, (N, C, D, H, k, s, p, d, g, (Hp, pp)) in CASES.items():
        args = (s, p, d, g)
        a = arrays((N, C, H, H), (D, C // g, k, k), D, cl.conv2d_forward, args, dtype)
        twin = arrays((N, C, Hp, Hp), (D, C, k, k), D, cl.conv2d_forward, (s, pp), dtype)
        assert a[3].shape == twin[3].shape, (name, a[3].shape, twin[3].shape)
        yield name, partial(conv_run, cl, *a, args), partial(conv_run, cl, *twin, (s, pp)), "conv2d", a, args
    for name, (N, Ci, Co, H, k, s, p, op) in TRANSPOSED.items():
        args = (s, p, op)
        a = arrays((N, Ci, H, H), (Ci, Co, k, k), Co, cl.conv_transpose2d_forward, args, dtype)
        Ho = a[3].shape[2]
        twin = arrays((N, Co, Ho, Ho), (Ci, Co, k, k), Ci, cl.conv2d_forward, (s, p), dtype)
        yield (
            name,
            partial(transposed_run, cl, *a, args),
            partial(conv_run, cl, *twin, (s, p)),
            "conv_transpose2d",
            a,
            args,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--dtypes", default="float32,float64")
    opts = parser.parse_args(argv)
    torch, why_not = import_torch()
    print(machine_note())
    print(torch_note(torch, why_not))
    for dtype in opts.dtypes.split(","):
        print(f"\n{dtype}: forward + backward, median time and ratios")
        print("(in brackets the spread of the per-round ratios, then the ratio of the minima)")
        print(f"{'case':28s} {'cnnlib ms':>9s}  {'vs plain':28s} {'vs torch':28s}")
        for name, run, twin, fn_name, a, args in rows(np.dtype(dtype)):
            funcs = {"cnnlib": run, "plain": twin}
            if torch is not None:
                funcs["torch"] = torch_run(torch, getattr(torch.nn.functional, fn_name), *a, args)
                got, want = run(), funcs["torch"]()
                tol = 1e-4 if dtype == "float32" else 1e-10
                for g_, w_ in zip(got, want, strict=True):
                    err = cl.rel_error(g_, w_.detach().numpy())
                    assert err < tol, f"{name}: cnnlib disagrees with torch ({err:.1e}): not timing it"
            t = interleaved_medians(funcs, opts.repeats)
            vs_torch = fmt_ratio(*ratio(t["cnnlib"], t["torch"])) if torch is not None else "-"
            print(f"{name:28s} {1e3 * np.median(t['cnnlib']):9.2f}  "
                  f"{fmt_ratio(*ratio(t['cnnlib'], t['plain'])):28s} {vs_torch:28s}")  # fmt: skip


if __name__ == "__main__":
    main()
