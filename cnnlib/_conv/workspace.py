"""Work arrays the fast path reuses between calls, and views on them (private).

Kept per thread, so that concurrent calls never share one.
"""

from __future__ import annotations

import math
import threading

import numpy as np

# Work arrays are kept between calls (each thread its own) and reused: a fresh
# multi-megabyte array costs a page fault per 4 KiB the first time it is written,
# on every call, which measured as much as the copies themselves.
_scratch = threading.local()


_KEEP_BYTES = 1 << 25  # larger work arrays are not kept: memory matters more than speed there
_KEEP_SETS = 32  # views kept per thread, one set per layout: a network's layers, not every shape ever seen


def work_array(name, shape, dtype):
    """A work array of this shape (contents undefined) that stays alive for the next call."""
    size = math.prod(shape)
    if size * dtype.itemsize > _KEEP_BYTES:
        _scratch.fresh = True  # ``kept_views`` must not keep it
        return np.empty(shape, dtype=dtype)
    arrays = _scratch.__dict__.setdefault("arrays", {})
    flat = arrays.get((name, dtype))
    if flat is None or flat.size < size:
        flat = arrays[(name, dtype)] = np.empty(size, dtype=dtype)
        _scratch.__dict__.setdefault("sets", {}).clear()  # some view an array replaced: drop them all
    return flat[:size].reshape(shape)


def kept_views(key, make):
    """``make()``, a set of views on this thread's work arrays, made once per key and kept for the next calls.

    Making the views of a block's buffers (strided views, one per phase and kernel offset)
    cost ~0.1 ms per thread and call, as much as a small convolution's copies. All of a
    thread's sets are dropped when one of its work arrays is made anew (a larger one: some
    set may view the old), and a set that holds an array too large to keep is not kept.
    """
    sets = _scratch.__dict__.setdefault("sets", {})
    made = sets.get(key)
    if made is None:
        _scratch.fresh = False
        made = make()
        if not _scratch.fresh:
            if len(sets) >= _KEEP_SETS:
                sets.clear()
            sets[key] = made
    return made


def per_thread(make):
    """A function returning ``make()``, made once in each thread that calls it: a call's work, per thread."""
    made = {}

    def mine():
        thread = threading.get_ident()
        if thread not in made:
            made[thread] = make()
        return made[thread]

    return mine
