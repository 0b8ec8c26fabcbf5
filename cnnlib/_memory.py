"""Large result arrays whose memory is reused once nobody holds them any more (private).

A fresh multi-megabyte array costs a page fault per 4 KiB page the first time it is
written, and the C library hands freed memory back to the system, so a layer that
returns new arrays on every call pays those faults on every call: on the virtual
machine of benchmarks/README.md ~3.5 µs each, 1,200 per call for three 12.8 MB arrays
(6 ms, against 1.4 ms for the same writes into memory already mapped). ``new_array``
hands out a view of a kept buffer that no live array uses any more, else a new one.

A buffer is free when the pool's own references are the only ones: every array that
shares its memory, however it was derived (a slice, a reshape, a cache's field),
holds a reference to it (``ndarray.base``), so ``sys.getrefcount`` tells. Results
thus never share memory with an array that is still alive.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

# Smaller arrays come from the C library's own free lists without page faults.
POOL_MIN_BYTES = 1 << 22
# At most this many buffers and bytes are kept (the largest layer's few results).
POOL_BUFFERS = 8
POOL_BYTES = 1 << 28

_lock = threading.Lock()
_pool: list[np.ndarray] = []  # uint8 buffers, oldest first


def new_array(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised array of this shape and dtype, as ``np.empty``, on reused memory if there is some."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < POOL_MIN_BYTES:
        return np.empty(shape, dtype)
    with _lock:  # the claim (making the view) must follow the check before another thread checks
        for i, buf in enumerate(_pool):
            # the list, the loop variable and getrefcount's argument: no array uses it;
            # at most twice the size asked for, so that a small result does not hold a large buffer
            if nbytes <= buf.nbytes <= 2 * nbytes and sys.getrefcount(buf) == 3:
                _pool.append(_pool.pop(i))  # most recently used last
                return buf[:nbytes].view(dtype).reshape(shape)
        buf = np.empty(nbytes, np.uint8)
        _pool.append(buf)
        while len(_pool) > POOL_BUFFERS or sum(b.nbytes for b in _pool) > POOL_BYTES:
            _pool.pop(0)  # forget the oldest: arrays that use it keep it alive as long as they need
        return buf[:nbytes].view(dtype).reshape(shape)
