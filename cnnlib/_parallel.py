"""Independent blocks of one computation, spread over the cores the BLAS may use (private).

A convolution's grid route makes its columns one block of images at a time
(``cnnlib._conv.grid``), batch normalisation treats its channels apart (``cnnlib.norm``):
each block reads its own part of the input and writes its own part of the result. NumPy
releases the GIL in its copies, element-wise loops and matrix products, so Python
threads run them side by side. The cores come from the BLAS: while blocks run on n
threads, the BLAS runs on one thread, and n is the number of threads the BLAS was
allowed (``OPENBLAS_NUM_THREADS``, ``threadpoolctl.threadpool_limits``: one thread there
means one here). One parallel region per call, not one per matrix product: under load,
BLAS's threads waiting for each other at every product of every block were what made the
convolution's products slow (benchmarks/README.md). threadpoolctl is optional (cnnlib needs
NumPy only): without it every block runs in the calling thread, each product on the BLAS's
own threads, as before blocks had threads.

Every block runs with NumPy's ufunc buffer at ``UFUNC_BUFFER`` entries (``np.setbufsize``,
local to the thread's context): NumPy 2.4 copies the operands of an element-wise ufunc
through its buffer when their contiguous rows are short next to it, and with the default
8,192 entries that made the blocks' ``+=`` and broadcasts over rows of 200-2,300 entries
(col2im, batch norm) 1.3-2.5x slower; at 1,024 they run in place, and a ufunc that has to
convert dtypes still gets long enough chunks (measured: benchmarks/README.md). The
blocks' element-wise loops and sums give the same bits at any buffer size (a sum that
converts dtypes would not: none runs in a block).

The results do not depend on the number of threads, nor on other calls running at the
same time from other threads: blocks write disjoint outputs, ``run`` hands the per-block
results to ``gather`` in block order, so a sum over blocks is added in the same order as
on one thread, and the blocks' products run on one BLAS thread. (One exception: blocks kept
in the calling thread run a product of more than SPLIT_MAX_MNK multiply-adds on the BLAS's
threads, which another thread's call may hold on one thread meanwhile: ~1 ulp apart.)
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

try:  # optional: without it every block runs in the calling thread, the BLAS on its own threads
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - the NumPy-only venv of .ci/run takes this branch
    ThreadpoolController = None

# True inside ``run``'s threads: the BLAS runs on one thread there (products.py reads it)
blas_on_one_thread: contextvars.ContextVar[bool] = contextvars.ContextVar("blas_on_one_thread", default=False)

_lock = threading.Lock()  # guards everything below
_blas: Any = None  # threadpoolctl's controller of the BLAS libraries, made on first use
_limited = 0  # convolutions running with the BLAS on one thread (in several caller threads)
_allowed: list[int | None] = []  # each BLAS library's thread count before _one_blas_thread set it to 1
_pool: ThreadPoolExecutor | None = None
UFUNC_BUFFER = 1024


def _forget_pool() -> None:
    # a child process made by fork has none of the parent's threads: it starts its own pool
    global _pool, _limited, _allowed
    _pool, _limited, _allowed = None, 0, []


os.register_at_fork(after_in_child=_forget_pool)


def _threads() -> int:
    """How many threads the BLAS may use (1 when it cannot be told to use one).

    While blocks of another call hold the BLAS on one thread, what it was allowed before:
    a call's thread count, and so its results, do not depend on what runs beside it.
    """
    global _blas
    if ThreadpoolController is None:
        return 1
    with _lock:
        if _blas is None:
            _blas = ThreadpoolController().select(user_api="blas")
        counts = _allowed if _limited else [lib.num_threads for lib in _blas.lib_controllers]
    return max([c for c in counts if c is not None], default=1)


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """The BLAS on one thread while the block holds, also when convolutions overlap in several threads."""
    global _limited, _allowed
    with _lock:
        if _limited == 0:
            _allowed = [lib.num_threads for lib in _blas.lib_controllers]
            with _in_control():  # the controllers' own calls: threadpoolctl's limiter costs ~40 µs
                for lib in _blas.lib_controllers:
                    lib.set_num_threads(1)
        _limited += 1
    try:
        yield
    finally:
        with _lock:
            _limited -= 1
            if _limited == 0:
                with _in_control():
                    for lib, count in zip(_blas.lib_controllers, _allowed, strict=True):
                        if count is not None:  # None: the library could not tell
                            lib.set_num_threads(count)


@contextmanager
def _in_control() -> Iterator[None]:
    """This thread may set OpenBLAS's threads while the block holds, then no thread is in control.

    threadpoolctl 3.8 lets only the first Python thread that sets them do so again (the others
    are ignored, silently): a limit set in one thread and lifted in another, or set from
    a second thread, would not happen. ``threadpool_limits`` leaves nobody in control
    when it ends; so does this.
    """
    clears = [getattr(type(lib), "clear_controlling_thread", None) for lib in _blas.lib_controllers]
    for clear in clears:
        if clear is not None:
            clear(force=True)
    try:
        yield
    finally:
        for clear in clears:
            if clear is not None:
                clear(force=True)


@contextmanager
def _ufunc_buffer() -> Iterator[None]:
    """NumPy's ufunc buffer at UFUNC_BUFFER entries in this thread's context while the block holds."""
    size = np.setbufsize(UFUNC_BUFFER)
    try:
        yield
    finally:
        np.setbufsize(size)


def run(
    work: Callable[[Any], Any],
    blocks: Sequence[Any],
    gather: Callable[[Any], None] | None = None,
    alone: bool = False,
):
    """Call ``work(block)`` for every block, on as many threads as the BLAS may use.

    The calling thread is one of them; the others come from a pool kept between calls.
    Each thread takes the next block not yet taken, so a thread that the machine slows
    down takes fewer. ``gather``, if given, receives each block's result in block order
    (under a lock, as soon as the blocks before it are done). ``alone`` keeps every block
    in the calling thread: for work too small to pay for waking another one (0.1-0.2 ms
    on the 2-core virtual machine of benchmarks/README.md). Raises what ``work`` raised,
    after every thread has stopped.
    """
    n = 1 if alone or len(blocks) < 2 else min(len(blocks), _threads())
    if n == 1:
        # the BLAS keeps its threads: products.py runs a product of up to SPLIT_MAX_MNK
        # multiply-adds as one-thread pieces (the same bits on any count) and a larger one on
        # the BLAS's threads. Holding the BLAS on one thread here as well would give such a
        # product the same bits while another thread's call holds it there too, but cost
        # case A 5-10% (~12 µs per hold and pass)
        with _ufunc_buffer():
            for blk in blocks:
                result = work(blk)
                if gather is not None:
                    gather(result)
        return
    results: dict[int, Any] = {}
    todo = iter(range(len(blocks)))
    taken, gathered = threading.Lock(), [0]

    def worker() -> None:
        while True:
            with taken:
                i = next(todo, None)
            if i is None:
                return
            result = work(blocks[i])
            if gather is None:
                continue
            with taken:
                results[i] = result
                while gathered[0] in results:
                    gather(results.pop(gathered[0]))
                    gathered[0] += 1

    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(thread_name_prefix="cnnlib")
    with _one_blas_thread():
        # each thread runs in a copy of the caller's context: NumPy's errstate, a forced route
        contexts = [contextvars.copy_context() for _ in range(n - 1)]
        for ctx in contexts:
            ctx.run(blas_on_one_thread.set, True)
            ctx.run(np.setbufsize, UFUNC_BUFFER)
        futures: list[Future] = [_pool.submit(ctx.run, worker) for ctx in contexts]
        token = blas_on_one_thread.set(True)
        try:
            with _ufunc_buffer():
                worker()
        finally:
            blas_on_one_thread.reset(token)
            for f in futures:  # wait for all before raising: they write into the caller's arrays
                f.exception()
        for f in futures:
            f.result()
