"""Say which numeric set-up this process runs in, and fail if the one asked for did not take effect.

CI runs the notebooks a second time with OPENBLAS_CORETYPE=Sandybridge OPENBLAS_NUM_THREADS=1
NPY_DISABLE_CPU_FEATURES=X86_V3. A misspelt variable is ignored silently (NumPy 2.4 ignores `AVX2`
as a name), and the second run would then only repeat the first: this script reads back what
OpenBLAS (threadpoolctl) and NumPy's dispatcher (numpy.lib.introspect) actually use.
"""

from __future__ import annotations

import collections
import os
import sys

import numpy as np
import threadpoolctl
from numpy.lib.introspect import opt_func_info


def main() -> int:
    blas = [lib for lib in threadpoolctl.threadpool_info() if lib["internal_api"] == "openblas"]
    kernels = collections.Counter(sig["current"] for f in opt_func_info().values() for sig in f.values())
    print(
        f"numpy {np.__version__}; OpenBLAS: "
        + ", ".join(f"{b.get('architecture')} on {b['num_threads']} thread(s)" for b in blas)
        + f"; NumPy's SIMD kernels in use: {dict(kernels)}"
    )
    wrong = []
    want_core = os.environ.get("OPENBLAS_CORETYPE")
    if want_core and not all(b.get("architecture", "").lower() == want_core.lower() for b in blas):
        wrong.append(f"OPENBLAS_CORETYPE={want_core} did not take effect")
    want_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    if want_threads and not all(b["num_threads"] == int(want_threads) for b in blas):
        wrong.append(f"OPENBLAS_NUM_THREADS={want_threads} did not take effect")
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    if disabled and set(kernels) != {k for k in kernels if k.startswith("baseline")}:
        wrong.append(f"NPY_DISABLE_CPU_FEATURES={' '.join(disabled)} left kernels above the baseline")
    for message in wrong:
        print(f"check_numeric_setup: {message}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
