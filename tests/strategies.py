"""Shared hypothesis strategies, tolerances and case records of the maths tests (NumPy only).

Hypothesis draws only shapes, hyper-parameters and an integer seed; the array values
come from ``np.random.default_rng(seed).standard_normal``. Values drawn by hypothesis
itself would be "simple" (0, 1, repeated numbers) and land on ReLU kinks and max-pool
ties, where a finite-difference derivative means nothing.

A convolution case is ``cnnlib.check``'s own ``ConvCase`` (the record the checker runs),
so the tests and the checker draw values the same way. Pooling keeps its own record
here: the tests need ``stride=None`` to reach the functions as None (the default
stride), where the checker's ``PoolCase`` stores the pair it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, settings

from cnnlib.check.cases import ConvCase

# float64 central differences of these (piecewise) smooth functions agree to ~1e-9;
# a wrong index or a missing term gives errors of order 1e-2 or more.
FD_TOL = 1e-7
# vectorised vs loops: the same sums in another order
EXACT_TOL = 1e-12

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def fast_settings(max_examples: int):
    """Hypothesis settings: reproducible (derandomize), no per-example deadline."""
    return settings(
        derandomize=True,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=[HealthCheck.too_slow],
    )


@st.composite
def conv_cases(draw, max_hw: int = 6, max_k: int = 3):
    """A convolution whose (non-square) kernel fits the padded input, by construction.

    Stride 1-3 and padding 0-3 are drawn per axis, so stride > kernel,
    (H + 2p - k) mod s != 0, 1x1 kernels and padding larger than the kernel all occur.
    """
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    H = draw(st.integers(max(1, kh - 2 * ph), max_hw))
    W = draw(st.integers(max(1, kw - 2 * pw), max_hw))
    return ConvCase(
        N=draw(st.integers(1, 2)),
        C=draw(st.integers(1, 3)),
        D=draw(st.integers(1, 3)),
        H=H,
        W=W,
        kh=kh,
        kw=kw,
        stride=(sh, sw),
        padding=(ph, pw),
        seed=draw(SEEDS),
    )


# Cases every conv property test runs in addition to the drawn ones.
CONV_EXAMPLES = [
    # stride > kernel along both axes, and (H - k) mod s != 0: unused rows and columns
    ConvCase(N=1, C=1, D=1, H=6, W=7, kh=1, kw=2, stride=(3, 3), padding=(0, 0), seed=1),
    # 1x1 kernel with padding on one axis only
    ConvCase(N=2, C=3, D=2, H=3, W=4, kh=1, kw=1, stride=(1, 2), padding=(2, 0), seed=2),
    # (H + 2p - k) mod s != 0 with padding, non-square kernel, batch > 1
    ConvCase(N=2, C=2, D=3, H=5, W=4, kh=2, kw=3, stride=(2, 3), padding=(1, 2), seed=3),
    # kernel exactly as large as the padded input: one output position
    ConvCase(N=1, C=2, D=1, H=1, W=2, kh=3, kw=2, stride=(2, 1), padding=(1, 0), seed=4),
]


@dataclass(frozen=True)
class PoolCase:
    """Shapes, window and stride of one pooling, plus the seed of its values."""

    N: int
    C: int
    H: int
    W: int
    size: tuple[int, int]
    stride: tuple[int, int] | None  # None means stride = size

    seed: int

    @property
    def out_hw(self):
        (kh, kw) = self.size
        sh, sw = self.size if self.stride is None else self.stride
        return (self.H - kh) // sh + 1, (self.W - kw) // sw + 1

    def arrays(self):
        """x (N, C, H, W) and dy (N, C, Ho, Wo), float64 standard normal."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.N, self.C, self.H, self.W))
        dy = rng.standard_normal((self.N, self.C) + self.out_hw)
        return x, dy


@st.composite
def pool_cases(draw, max_hw: int = 7):
    """A pooling whose (non-square) window fits the input; stride None, smaller than
    the window (overlapping windows) or larger than it."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    return PoolCase(
        N=draw(st.integers(1, 2)),
        C=draw(st.integers(1, 3)),
        H=draw(st.integers(kh, max_hw)),
        W=draw(st.integers(kw, max_hw)),
        size=(kh, kw),
        stride=stride,
        seed=draw(SEEDS),
    )


POOL_EXAMPLES = [
    # overlapping windows along both axes
    PoolCase(N=2, C=2, H=5, W=6, size=(3, 2), stride=(1, 1), seed=11),
    # stride > window and (H - k) mod s != 0
    PoolCase(N=1, C=1, H=7, W=6, size=(2, 1), stride=(3, 2), seed=12),
    # default stride = size, with leftover rows
    PoolCase(N=1, C=3, H=5, W=5, size=(2, 2), stride=None, seed=13),
]
