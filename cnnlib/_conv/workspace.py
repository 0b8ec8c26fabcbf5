"""Work arrays the fast path reuses between calls (private).

Kept per thread, so that concurrent calls never share one.
"""

from __future__ import annotations

import math
import threading

import numpy as np

# Work arrays are kept between calls (one set per thread) and reused: a fresh
# multi-megabyte array costs a page fault per 4 KiB the first time it is written,
# on every call, which measured as much as the copies themselves.
_scratch = threading.local()


_KEEP_BYTES = 1 << 25  # larger work arrays are not kept: memory matters more than speed there


def work_array(name, shape, dtype, zero=False):
    """A work array of this shape (contents undefined unless zero) that stays alive for the next call."""
    size = math.prod(shape)
    if size * dtype.itemsize > _KEEP_BYTES:
        return np.zeros(shape, dtype=dtype) if zero else np.empty(shape, dtype=dtype)
    arrays = _scratch.__dict__.setdefault("arrays", {})
    flat = arrays.get((name, dtype))
    if flat is None or flat.size < size:
        flat = arrays[(name, dtype)] = np.empty(size, dtype=dtype)
    out = flat[:size].reshape(shape)
    if zero:
        out.fill(0)
    return out
