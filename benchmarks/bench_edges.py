"""Cost that follows the output: conv2d time and peak memory vs PyTorch, and GEMM throughput.

    python benchmarks/bench_edges.py [--repeats 7] [--cases A,B,C,K64,K96,S1e5] [--dtypes float32,float64]

For each case (N, C, H, W, D, k, s, p) and dtype it runs ``conv2d_forward`` followed by
``conv2d_backward`` (as bench_conv.py) and prints

- time: cnnlib / torch median time (interleaved rounds, torch with 2 threads);
- memory: cnnlib / torch peak resident memory that one forward + backward adds, each
  in a fresh child process (after a warm-up on a tiny case, which loads code and thread
  pools), from the high-water mark Linux resets through /proc/self/clear_refs; work
  arrays cnnlib keeps for the next call count; both in MB too;
- GEMM: the useful work 3 · 2·N·D·Ho·Wo·C·kh·kw flops (forward, ∂E/∂w, ∂E/∂x) per second
  of cnnlib, as a fraction of NumPy's own matmul throughput on a large square product of
  that dtype ("of peak"); and the share of cnnlib's time that its three matrix products
  alone take at the shapes it uses ("in GEMM"), both from the fastest samples. The rest
  of the time is the memory-bound copies (im2col, col2im, layout): a low "in GEMM" share
  says those bound the case.

The shapes at the edges of the fast path: K64 and K96, a kernel as large as the input (one output
position); S1e5, stride 100,000 on a 5x5 input (torch timed at stride 5, see
TORCH_STRIDE). Cases A, B, C are bench_conv.py's.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import time
from functools import partial

import numpy as np
from _bench import fmt_ratio, import_torch, interleaved_medians, machine_note, ratio, torch_note
from bench_conv import CASES as CONV_CASES
from bench_conv import check, fwd_bwd, make_case, torch_fwd_bwd

import cnnlib as cl

CASES = dict(CONV_CASES)
CASES.update(
    {
        "K64": (8, 3, 64, 64, 16, 64, 1, 0),
        "K96": (8, 3, 96, 96, 16, 96, 1, 0),
        "S1e5": (8, 3, 5, 5, 16, 5, 100_000, 0),
    }
)


# torch 2.13's CPU conv2d crashes (segmentation fault) at stride 100,000; with one window
# per axis the stride changes nothing, so torch is timed at stride 5 (the same product).
TORCH_STRIDE = {"S1e5": 5}


def _torch_case(letter, case_arrays):
    x, w, b, dy, s, p = case_arrays
    return x, w, b, dy, TORCH_STRIDE.get(letter, s), p


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child_peak(lib, letter, dtype):
    """In a child process: MB of resident memory one forward + backward adds at its peak."""
    arrays, tiny = make_case(CASES[letter], getattr(np, dtype)), make_case((1, 1, 8, 8, 1, 3, 1, 0), dtype)
    if lib == "torch":
        torch, _ = import_torch()
        run, warm = torch_fwd_bwd(torch, *_torch_case(letter, arrays)), torch_fwd_bwd(torch, *tiny)
    else:
        run, warm = partial(fwd_bwd, cl, *arrays), partial(fwd_bwd, cl, *tiny)
    # warm up on a tiny case: loading code and starting thread pools are not the call's memory,
    # but its work arrays (also those cnnlib keeps for the next call) and results are
    warm()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so the peak is measured from here
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark to the current resident size
    before = _rss_kib("VmRSS:")
    run()
    print(json.dumps((_rss_kib("VmHWM:") - before) / 1024))


def peak_mb(lib, letter, dtype):
    out = subprocess.run(
        [sys.executable, __file__, "--peak-child", lib, letter, dtype],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def gemm_shapes(case, dtype):
    """The (m, k) @ (k, n) products cnnlib's route makes for this case, whole batch at once."""
    N, C, H, W, D, k, s, p = case
    Ho, Wo = cl.conv_output_size(H, k, s, p), cl.conv_output_size(W, k, s, p)
    K = C * k * k
    cols = cl.conv.route_of((N, C, H, W), (D, C, k, k), s, p).columns
    return [(D, K, cols), (K, cols, D), (K, D, cols)], 3 * 2 * N * D * Ho * Wo * K


def time_of(f, repeats):
    """The fastest of ``repeats`` calls: on a shared machine the steadiest estimate."""
    f()
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        best.append(time.perf_counter() - t)
    return min(best)


def gemm_numbers(case, dtype, t_cnnlib, repeats):
    """(fraction of NumPy's peak matmul throughput, share of cnnlib's time in its GEMMs)."""
    rng = np.random.default_rng(0)
    big = rng.standard_normal((1024, 1024)).astype(dtype)
    peak = 2 * 1024**3 / time_of(lambda: big @ big, repeats)
    shapes, useful = gemm_shapes(case, dtype)
    mats = [
        (rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
        for m, k, n in shapes
    ]
    t_gemm = sum(time_of(lambda a=a, b=b: a @ b, repeats) for a, b in mats)
    return useful / t_cnnlib / peak, t_gemm / t_cnnlib


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="interleaved samples of cnnlib and torch")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--peak-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.peak_child:
        return child_peak(*args.peak_child)
    torch, why_not = import_torch()
    print("conv2d forward + backward at the edges: cnnlib / torch, and cnnlib's GEMM throughput")
    print(machine_note())
    print(torch_note(torch, why_not))
    head = f"{'case':<6}{'(N, C, H, W, D, k, s, p)':<34}{'dtype':<9}"
    head += f"{'time vs torch':<32}{'peak MB cnnlib / torch':<28}{'of peak':<9}in GEMM"
    print(head)
    for dtype in args.dtypes.split(","):
        for letter in args.cases.split(","):
            case = CASES[letter]
            x, w, b, dy, s, p = make_case(case, getattr(np, dtype))
            funcs = {"cnnlib": partial(fwd_bwd, cl, x, w, b, dy, s, p)}
            line = f"{letter:<6}{str(case):<34}{dtype:<9}"
            if torch is not None:
                funcs["torch"] = torch_fwd_bwd(torch, *_torch_case(letter, (x, w, b, dy, s, p)))
                got = funcs["cnnlib"]()
                check(letter, [t.detach().numpy() for t in funcs["torch"]()], got, getattr(np, dtype))
            t = interleaved_medians(funcs, args.repeats)
            mem = peak_mb("cnnlib", letter, dtype)
            if torch is not None:
                mem_t = peak_mb("torch", letter, dtype)
                line += f"{fmt_ratio(*ratio(t['cnnlib'], t['torch'])):<32}"
                line += f"{mem / max(mem_t, 0.1):5.2f}x ({mem:7.1f} / {mem_t:7.1f})   "
            else:
                line += f"{'-':<32}{mem:7.1f} MB{'':<17}"
            of_peak, in_gemm = gemm_numbers(case, getattr(np, dtype), np.min(t["cnnlib"]), args.repeats)
            print(line + f"{of_peak:<9.0%}{in_gemm:.0%}", flush=True)


if __name__ == "__main__":
    main()
