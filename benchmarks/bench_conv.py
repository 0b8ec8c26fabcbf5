"""Speed of cnnlib's conv2d forward + backward, as ratios of median times.

    python benchmarks/bench_conv.py [--repeats 9] [--ref-repeats 3] [--ref-images 1]

For each case (N, C, H, W, D, k, s, p) and dtype it times one call of
``conv2d_forward`` followed by one of ``conv2d_backward`` (the functional API: the
backward rebuilds its im2col columns) and prints

- ratio vs reference: cnnlib time / ``cnnlib.reference`` time. The loops cost exactly
  N times the cost of one image, so the reference is timed on ``--ref-images`` images
  and scaled up to N (a full batch takes minutes);
- ratio vs torch: cnnlib time / ``torch.nn.functional.conv2d`` + autograd backward
  with 2 threads, when torch is importable (it is never a dependency of cnnlib).

Ratios below 1 mean cnnlib is faster. Before timing, the three results are compared,
so a fast but wrong version cannot be reported.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from _bench import (
    fmt_ratio,
    fmt_small_ratio,
    import_torch,
    interleaved_medians,
    machine_note,
    ratio,
    torch_note,
)

import cnnlib as cl
from cnnlib import reference

# (N, C, H, W, D, k, s, p): A the digits layer of the error-delta question at batch 64, B a padded
# 3-channel 5x5 layer, C a strided 16 -> 32 channel 3x3 layer
CASES = {
    "A": (64, 1, 28, 28, 3, 5, 1, 0),
    "B": (64, 3, 32, 32, 8, 5, 1, 2),
    "C": (32, 16, 32, 32, 32, 3, 2, 1),
}
TARGET_VS_TORCH = {np.float32: 2.0, np.float64: 1.5}
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def make_case(case, dtype, seed=0):
    N, C, H, W, D, k, s, p = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((D, C, k, k)).astype(dtype)
    b = rng.standard_normal(D).astype(dtype)
    Ho, Wo = cl.conv_output_size(H, k, s, p), cl.conv_output_size(W, k, s, p)
    dy = rng.standard_normal((N, D, Ho, Wo)).astype(dtype)
    return x, w, b, dy, s, p


def fwd_bwd(lib, x, w, b, dy, s, p):
    y = lib.conv2d_forward(x, w, b, s, p)
    return (y, *lib.conv2d_backward(dy, x, w, s, p))


def torch_fwd_bwd(torch, x, w, b, dy, s, p):
    """The torch twin of ``fwd_bwd``: returns a function that runs it on fresh leaf tensors."""
    tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))

    def run():
        xx, ww, bb = (t.detach().requires_grad_() for t in (tx, tw, tb))
        y = torch.nn.functional.conv2d(xx, ww, bb, stride=s, padding=p)
        y.backward(tdy)
        return y, xx.grad, ww.grad, bb.grad

    return run


def check(name, got, expected, dtype):
    for g, e in zip(got, expected, strict=True):
        err = cl.rel_error(np.asarray(g), np.asarray(e))
        if err > TOL[dtype]:
            raise AssertionError(f"{name}: cnnlib disagrees (rel_error {err:.1e}): not timing a wrong result")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=9, help="interleaved samples of cnnlib and torch")
    ap.add_argument("--ref-repeats", type=int, default=3, help="samples of the (slow) reference")
    ap.add_argument("--ref-images", type=int, default=1, help="images the reference is timed on")
    ap.add_argument("--cases", default="".join(CASES), help="subset of the case letters, e.g. AB")
    ap.add_argument("--dtypes", default="float32,float64")
    args = ap.parse_args(argv)
    torch, why_not = import_torch()
    print("conv2d forward + backward: cnnlib time / other time")
    print("  median ratio [25-75% of per-round ratios], min = ratio of the fastest samples")
    print(machine_note())
    print(torch_note(torch, why_not))
    print(f"reference timed on {args.ref_images} image(s), scaled to N; {args.repeats} interleaved rounds\n")
    head = f"{'case':<5}{'(N, C, H, W, D, k, s, p)':<30}{'dtype':<9}{'vs reference':<30}"
    print(head + ("vs torch (target)" if torch else ""))
    missed = []
    for dtype in (getattr(np, d) for d in args.dtypes.split(",")):
        for letter in args.cases:
            case = CASES[letter]
            x, w, b, dy, s, p = make_case(case, dtype)
            n = args.ref_images
            sub = (x[:n], w, b, dy[:n], s, p)
            expected = fwd_bwd(reference, *sub)
            check(letter, fwd_bwd(cl, *sub), expected, dtype)
            funcs = {"cnnlib": partial(fwd_bwd, cl, x, w, b, dy, s, p)}
            if torch is not None:
                funcs["torch"] = torch_fwd_bwd(torch, x, w, b, dy, s, p)
                sub_torch = [t.detach().numpy() for t in torch_fwd_bwd(torch, *sub)()]
                check(letter + " (torch)", sub_torch, expected, dtype)
            t = interleaved_medians(funcs, args.repeats)
            ref_call = {"ref": partial(fwd_bwd, reference, *sub)}
            t_ref = interleaved_medians(ref_call, args.ref_repeats, calls={"ref": 1})
            scaled_ref = t_ref["ref"] * x.shape[0] / n
            line = f"{letter:<5}{str(case):<30}{np.dtype(dtype).name:<9}"
            line += f"{fmt_small_ratio(ratio(t['cnnlib'], scaled_ref)[0]):<30}"
            if torch is not None:
                r = ratio(t["cnnlib"], t["torch"])
                target = TARGET_VS_TORCH[dtype]
                ok = "ok" if r[0] <= target else "MISSED"
                if r[0] > target:
                    missed.append(f"{letter} {np.dtype(dtype).name}")
                line += f"{fmt_ratio(*r)}  (<= {target}x {ok})"
            print(line, flush=True)
    if torch is not None:
        print("\ntargets missed: " + (", ".join(missed) if missed else "none"))


if __name__ == "__main__":
    main()
