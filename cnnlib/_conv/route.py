"""Which route computes a convolution, and the seam that lets tests and benchmarks choose one.

The grid route (``grid.py``) is the fast one for the usual shapes; the windows route
(``windows.py``) takes the shapes where the grid would mostly be garbage
(``Layout.wasteful``) and the empty ones. ``forced`` overrides that choice, and a
route's block size, for the calls made inside it: the tests run every shape on both
routes with blocks of one row, the benchmarks time both. It is reached through the
public ``cnnlib.conv.forced_route`` and ``cnnlib.conv.route_of``.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
from collections.abc import Iterator
from typing import NamedTuple

from .grid import GRID_BLOCK_BYTES
from .layout import Layout
from .windows import WINDOWS_BLOCK_BYTES

BLOCK_BYTES = {"grid": GRID_BLOCK_BYTES, "windows": WINDOWS_BLOCK_BYTES}


class Route(NamedTuple):
    """The route a convolution takes, the block size its columns are made in, and their number.

    ``columns`` is the width of the matrix products over the whole batch: N·Ho·Wo on the
    windows route (the real windows), N·Hc·Wq on the grid (garbage positions included).
    """

    name: str
    block_bytes: int
    columns: int


# a context variable, not a global: a forced route stays inside its thread (and task)
_Forced = tuple[str, int | None] | None
_forced: contextvars.ContextVar[_Forced] = contextvars.ContextVar("forced", default=None)


def choose(g: Layout) -> Route:
    """The route for layout g: the forced one if any, else the windows route when the grid is wasteful.

    Empty arrays always take the windows route: it copes with an empty H or W (padding
    only), and for N, C or D = 0 its padded input is the (tiny) cache.
    """
    forced = _forced.get()
    if 0 in (g.N, g.C, g.D, g.H, g.W):
        name = "windows"
    elif forced is not None:
        name = forced[0]
    else:
        name = "windows" if g.wasteful else "grid"
    block_bytes = BLOCK_BYTES[name]
    if forced is not None and forced[0] == name and forced[1] is not None:
        block_bytes = forced[1]
    return Route(name, block_bytes, g.N * (g.Ho * g.Wo if name == "windows" else g.P))


@contextlib.contextmanager
def forced(name: str, block_bytes: int | None = None) -> Iterator[None]:
    """Send every convolution inside the ``with`` block to route ``name`` ("grid" or "windows")."""
    if name not in BLOCK_BYTES:
        raise ValueError(f"route must be one of {sorted(BLOCK_BYTES)}, got {name!r}")
    if block_bytes is not None and (
        isinstance(block_bytes, bool) or not isinstance(block_bytes, numbers.Integral) or block_bytes < 1
    ):
        raise ValueError(f"block_bytes must be None or an int >= 1, got {block_bytes!r}")
    token = _forced.set((name, None if block_bytes is None else int(block_bytes)))
    try:
        yield
    finally:
        _forced.reset(token)
