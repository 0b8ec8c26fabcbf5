"""Timing helpers shared by the benchmark scripts (not part of cnnlib).

Rules, from measuring on a noisy 2-core machine:
- interleave the libraries inside every repeat and rotate their order, so a burst of
  load from elsewhere hits all of them alike; report medians;
- pause ~0.2 s before timing each library: BLAS and OpenMP worker threads keep
  spinning for a while after a call and would steal a core from the next library;
- then warm up: run the library for ``WARM_S``, untimed, before timing it. On the
  2-core virtual machine these numbers come from, a CPU that was idle for the pause
  runs slowly for the next ~50-100 ms (its wake-ups go through the hypervisor),
  and that hits cnnlib's Python threads, which sleep between blocks, more than
  PyTorch's spinning OpenMP threads: a training loop, which calls layers back to back,
  never sees it. ``--cold`` in bench_layers.py and bench_modern.py skips the warm-up,
  to measure that cost too (benchmarks/README.md gives both);
- time several calls per sample, enough to last ~``SAMPLE_S``, so the clock's
  resolution and Python's call overhead do not matter.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

PAUSE_S = 0.2
SAMPLE_S = 0.05
WARM_S = 0.2
TORCH_THREADS = 2


def import_torch():
    """torch with 2 intra-op threads, or None (with the reason) when it is not importable."""
    try:
        import torch
    except ImportError as e:
        return None, f"{type(e).__name__}: {e}"
    torch.set_num_threads(TORCH_THREADS)
    return torch, None


def torch_note(torch, why_not):
    if torch is None:
        return (
            f"torch is not importable ({why_not}): the 'vs torch' column is skipped.\n"
            "  To fill it, use a scratch venv (torch is never a dependency of cnnlib):\n"
            "    python3 -m venv /tmp/venv_torch && /tmp/venv_torch/bin/pip install torch==2.13.0 numpy\n"
            "    /tmp/venv_torch/bin/pip install -e .   # then run this with /tmp/venv_torch/bin/python"
        )
    return f"torch {torch.__version__} with torch.set_num_threads({TORCH_THREADS})"


def machine_note():
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    return f"numpy {np.__version__}, {os.cpu_count()} CPUs, numpy BLAS threads: {blas}"


def _calls_per_sample(f):
    t = time.perf_counter()
    f()  # also the warm-up: first calls allocate and load code
    once = time.perf_counter() - t
    return max(1, math.ceil(SAMPLE_S / max(once, 1e-6)))


def interleaved_medians(funcs, repeats, calls=None, warm=True):
    """Median seconds per call of each function, timed in interleaved, rotated rounds.

    Parameters
    ----------
    funcs : dict of name -> callable
    repeats : int
        Samples per function; each sample times several calls (see module doc).
    calls : dict of name -> int, optional
        Calls per sample; by default enough for ~SAMPLE_S seconds (1 for slow functions).
    warm : bool
        Run the function for ``WARM_S`` untimed after the pause, before timing it.

    Returns
    -------
    dict of name -> ndarray of shape (repeats,)
        Seconds per call of each sample, in round order (so samples pair up across names).
    """
    names = list(funcs)
    calls = {n: (calls or {}).get(n) or _calls_per_sample(funcs[n]) for n in names}
    samples = {n: np.empty(repeats) for n in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            time.sleep(PAUSE_S)
            f, c = funcs[name], calls[name]
            start = time.perf_counter()
            while warm and time.perf_counter() - start < WARM_S:
                f()
            t = time.perf_counter()
            for _ in range(c):
                f()
            samples[name][r] = (time.perf_counter() - t) / c
    return samples


def ratio(num, den):
    """Ratio of the medians; the spread (25th-75th percentile) of the per-round ratios; ratio of the minima.

    The minima are each library's time when no other process got in the way: on a
    loaded machine their ratio is the steadier number.
    """
    r = np.median(num) / np.median(den)
    q1, q3 = np.percentile(num / den, [25, 75]) if len(num) == len(den) else (r, r)
    return r, q1, q3, np.min(num) / np.min(den)


def fmt_ratio(r, q1, q3, best):
    return f"{r:.2f}x [{q1:.2f}-{q3:.2f}] min {best:.2f}x"


def fmt_small_ratio(r):
    """Ratios far below 1 (vs the loop reference): also say how many times faster."""
    return f"{r:.1e}x ({1 / r:,.0f}x faster)"
