"""Cases A, B, C and four real-size layers: time vs PyTorch beside the fraction of the GEMM rate.

    python benchmarks/bench_layers.py [--repeats 5] [--cases A,B,C,R32,L64,DW128,T64]
                                      [--dtypes float32,float64] [--train]

For each case and dtype, one forward + backward of cnnlib and of PyTorch (2 threads) are
timed in interleaved rounds (``_bench.interleaved_medians``), after checking that they agree,
and the line gives

- vs torch: cnnlib / torch time, median of the rounds and ratio of the minima, for the
  functions ``conv2d_forward`` then ``conv2d_backward(dy, x, w, ...)`` (the backward lays x
  out again);
- layer vs torch: the same for what a layer (``cl.Conv2D``) runs, ``conv2d_forward_with_cache``
  then ``conv2d_backward(..., cache=cache)``, which reuses the forward's laid-out x, as torch's
  autograd reuses its saved x (not for the transposed case: its functions take no cache);
- of GEMM: the useful work, 3 · 2·(multiply-adds of one product) flops (forward, ∂E/∂w,
  ∂E/∂x), per second of the fastest (min) and the median sample, over NumPy's own rate on a
  1024 x 1024 product of the same dtype, measured in the same rounds (so that load from
  elsewhere hits it alike); for cnnlib and for torch. A report, not a goal: a depthwise
  layer does 9 multiply-adds per pixel read, so memory, not the product, bounds it.

The cases (N, C, H, W, D, k, stride, padding, groups): A, B, C of bench_conv.py; R32 the
3 x 3 convolution of the modern block (bench_modern.py: 32 channels, 28 x 28); L64 a
64-channel 56 x 56 3 x 3 layer; DW128 its depthwise twin with 128 channels (groups = C = D);
T64 a transposed convolution 32 x 32 -> 64 x 64, k = 4, s = 2, C = D = 64 (``conv_transpose2d``).
``--train`` adds the training step of bench_train.py (digits net, batch 64), against torch's step
and against torch's step computing ∂E/∂x of the first layer too, as ``cl.Sequential.backward`` does.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from _bench import import_torch, interleaved_medians, machine_note, torch_note
from bench_conv import CASES as CONV_CASES

import cnnlib as cl

# name: (N, C, H, W, D, k, stride, padding, groups, transposed)
CASES = {letter: (*case, 1, False) for letter, case in CONV_CASES.items()}
CASES.update(
    {
        "R32": (64, 32, 28, 28, 32, 3, 1, 1, 1, False),
        "L64": (64, 64, 56, 56, 64, 3, 1, 1, 1, False),
        "DW128": (64, 128, 56, 56, 128, 3, 1, 1, 128, False),
        "T64": (32, 64, 32, 32, 64, 4, 2, 1, 1, True),
    }
)
TOL = {"float32": 1e-4, "float64": 1e-10}


def make(case, dtype, seed=0):
    """(x, w, b, dy, args, multiply-adds of one product) for a case."""
    N, C, H, W, D, k, s, p, G, transposed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    if transposed:  # w (C_in, C_out, k, k); each input pixel meets every output channel and offset
        w, args = rng.standard_normal((C, D, k, k)).astype(dtype), (s, p)
        y_shape = cl.conv_transpose2d_forward(x[:1], w, None, *args).shape
        macs = N * C * H * W * D * k * k
    else:
        w, args = rng.standard_normal((D, C // G, k, k)).astype(dtype), (s, p, 1, G)
        Ho, Wo = cl.conv_output_size(H, k, s, p), cl.conv_output_size(W, k, s, p)
        y_shape = (1, D, Ho, Wo)
        macs = N * D * Ho * Wo * (C // G) * k * k
    b = rng.standard_normal(D).astype(dtype)
    dy = rng.standard_normal((N, *y_shape[1:])).astype(dtype)
    return x, w, b, dy, args, macs


def cnnlib_run(transposed, x, w, b, dy, args):
    if transposed:
        return (cl.conv_transpose2d_forward(x, w, b, *args), *cl.conv_transpose2d_backward(dy, x, w, *args))
    return (cl.conv2d_forward(x, w, b, *args), *cl.conv2d_backward(dy, x, w, *args))


def cnnlib_layer_run(x, w, b, dy, args):
    y, cache = cl.conv2d_forward_with_cache(x, w, b, *args)
    return (y, *cl.conv2d_backward(dy, None, w, *args, cache=cache))


def torch_run(torch, transposed, x, w, b, dy, args):
    f = torch.nn.functional
    tx, tw, tb, tdy = (torch.from_numpy(a) for a in (x, w, b, dy))

    def run():
        xx, ww, bb = (t.detach().requires_grad_() for t in (tx, tw, tb))
        if transposed:
            y = f.conv_transpose2d(xx, ww, bb, stride=args[0], padding=args[1])
        else:
            y = f.conv2d(xx, ww, bb, stride=args[0], padding=args[1], dilation=args[2], groups=args[3])
        y.backward(tdy)
        return y, xx.grad, ww.grad, bb.grad

    return run


def gemm_probe(dtype):
    big = np.random.default_rng(1).standard_normal((1024, 1024)).astype(dtype)
    return lambda: big @ big


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved samples of each")
    ap.add_argument("--cold", action="store_true", help="no untimed warm-up after each pause (_bench.py)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--train", action="store_true", help="add the digits training step (bench_train.py)")
    args = ap.parse_args(argv)
    torch, why_not = import_torch()
    print("forward + backward: cnnlib / torch, and each one's fraction of NumPy's GEMM rate")
    print(machine_note())
    print(torch_note(torch, why_not))
    warm = "cold: no warm-up after the pauses" if args.cold else "each sample after a warm-up"
    print(f"{args.repeats} interleaved rounds ({warm});")
    print("'med' from the medians, 'min' from the fastest samples\n")
    print(f"{'case':<7}{'dtype':<9}{'cnnlib ms':>10}  {'vs torch med / min':<20}{'layer vs torch':<20}"
          f"{'cnnlib of GEMM med / min':<26}{'torch of GEMM med / min':<24}")  # fmt: skip
    for dtype in args.dtypes.split(","):
        for name in args.cases.split(","):
            case = CASES[name]
            x, w, b, dy, a, macs = make(case, np.dtype(dtype))
            funcs = {"cnnlib": partial(cnnlib_run, case[-1], x, w, b, dy, a), "gemm": gemm_probe(dtype)}
            if not case[-1]:
                funcs["layer"] = partial(cnnlib_layer_run, x, w, b, dy, a)
            if torch is not None:
                funcs["torch"] = torch_run(torch, case[-1], x, w, b, dy, a)
                for lib in [lib for lib in ("cnnlib", "layer") if lib in funcs]:
                    for got, want in zip(funcs[lib](), funcs["torch"](), strict=True):
                        err = cl.rel_error(got, want.detach().numpy())
                        assert err < TOL[dtype], f"{name}: {lib} disagrees with torch ({err:.1e}): not timed"
            t = interleaved_medians(funcs, args.repeats, warm=not args.cold)
            rate = {s: 2 * 1024**3 / f(t["gemm"]) for s, f in (("med", np.median), ("min", np.min))}

            def frac(lib, t=t, rate=rate, macs=macs):
                return " / ".join(
                    f"{6 * macs / f(t[lib]) / rate[s]:4.0%}" for s, f in (("med", np.median), ("min", np.min))
                )  # noqa: E501

            line = f"{name:<7}{dtype:<9}{1e3 * np.median(t['cnnlib']):10.1f}  "
            if torch is not None:
                for lib in ("cnnlib", "layer"):
                    if lib in t:
                        med = np.median(t[lib]) / np.median(t["torch"])
                        line += f"{med:5.2f}x / {np.min(t[lib]) / np.min(t['torch']):5.2f}x     "
                    else:
                        line += f"{'-':<20}"
                line += f"{frac('cnnlib'):<26}{frac('torch'):<24}"
            else:
                line += f"{'-':<20}{'-':<20}{frac('cnnlib'):<26}"
            print(line, flush=True)
    if args.train and torch is not None:
        import bench_train as bt

        print("\ntraining step of bench_train.py (digits net, batch 64): cnnlib / torch, med / min; then")
        print("cnnlib / torch computing ∂E/∂x of the first layer too, as cl.Sequential.backward does")
        rng = np.random.default_rng(0)
        for dtype in (getattr(np, d) for d in args.dtypes.split(",")):
            x = rng.standard_normal((bt.BATCH, 1, 28, 28)).astype(dtype)
            labels = rng.integers(0, 10, size=bt.BATCH)
            funcs = {
                "cnnlib": bt.cnnlib_step(bt.digits_net(dtype), x, labels),
                "torch": bt.torch_step(torch, bt.digits_net(dtype), x, labels)[0],
                "torch_dx": bt.torch_step(torch, bt.digits_net(dtype), x, labels, input_grad=True)[0],
            }
            t = interleaved_medians(funcs, 3 * args.repeats, warm=not args.cold)
            c = t["cnnlib"]
            ratios = "   ".join(
                f"{np.median(c) / np.median(t[k]):5.2f}x / {np.min(c) / np.min(t[k]):5.2f}x"
                for k in ("torch", "torch_dx")
            )
            print(f"{'step':<7}{np.dtype(dtype).name:<9}{1e3 * np.median(c):10.1f}  {ratios}", flush=True)


if __name__ == "__main__":
    main()
