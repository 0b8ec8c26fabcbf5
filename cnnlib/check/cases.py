"""The test cases the checker runs: shapes, hyper-parameters and seeded values.

Each case is written in the course's own terms (NCHW, (h, w) pairs); a convention that
cannot express a case (CS231n's one int stride, deeplearning.ai's square f x f kernel)
skips it and says why. The default lists are chosen so that every situation where a
hand-written backward typically goes wrong occurs in every convention: batch and
channels (N > 1, C > 1, C != D and C == D), stride 3 and stride larger than the kernel,
padding 0 and 1-2, rows no window reaches ((H + 2p - k) mod s != 0), non-square inputs,
overlapping and non-overlapping pool windows, and tied maxima.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..shapes import as_pair, conv_output_size

__all__ = ["ConvCase", "PoolCase", "CONV_CASES", "POOL_CASES", "ASSUME_CONV_CASES", "ASSUME_POOL_CASES"]


@dataclass(frozen=True)
class ConvCase:
    """One convolution: shapes, stride, padding and the seed of its values.

    Parameters
    ----------
    N, C, D : int
        Batch size, input channels, filters.
    H, W : int
        Input height and width.
    kh, kw : int
        Kernel height and width.
    stride, padding : int or (h, w) pair
        Stored as pairs.
    seed : int
        Seed of ``np.random.default_rng`` for x, w, b and dy.
    dilation : int or (h, w) pair
        Stored as a pair; (1, 1) is the plain convolution.
    groups : int
        w then has shape (D, C/groups, kh, kw). Cases with dilation or groups run in the
        "cnnlib" convention only.
    """

    N: int
    C: int
    D: int
    H: int
    W: int
    kh: int
    kw: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    seed: int = 0
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self):
        object.__setattr__(self, "stride", as_pair(self.stride, "stride"))
        object.__setattr__(self, "padding", as_pair(self.padding, "padding"))
        object.__setattr__(self, "dilation", as_pair(self.dilation, "dilation"))

    @property
    def family(self):
        """True for a dilated or grouped convolution (checked in the "cnnlib" convention only)."""
        return self.dilation != (1, 1) or self.groups != 1

    def with_family(self, dilation=1, groups=1):
        """This case dilated and grouped, grown where needed (the dilated kernel fits, groups divide C, D)."""
        (dh, dw), (ph, pw), g = as_pair(dilation, "dilation"), self.padding, int(groups)
        return replace(
            self,
            H=max(self.H, dh * (self.kh - 1) + 1 - 2 * ph),
            W=max(self.W, dw * (self.kw - 1) + 1 - 2 * pw),
            C=g * -(-self.C // g),
            D=g * -(-self.D // g),
            dilation=(dh, dw),
            groups=g,
        )

    @property
    def out_hw(self):
        """(Ho, Wo): the number of window positions along each axis."""
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        return conv_output_size(self.H, self.kh, sh, ph, dh), conv_output_size(self.W, self.kw, sw, pw, dw)

    def arrays(self, dtype=np.float64):
        """Standard-normal values: x (N, C, H, W), w (D, C, kh, kw), b (D,), dy (N, D, Ho, Wo)."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.N, self.C, self.H, self.W))
        w = rng.standard_normal((self.D, self.C // self.groups, self.kh, self.kw))
        b = rng.standard_normal(self.D)
        dy = rng.standard_normal((self.N, self.D, *self.out_hw))
        return {k: v.astype(dtype) for k, v in dict(x=x, w=w, b=b, dy=dy).items()}

    def features(self):
        """The properties of this case a bug can depend on, as short phrases."""
        (sh, sw), (ph, pw), (Ho, Wo) = self.stride, self.padding, self.out_hw
        left = (self.H + 2 * ph - self.kh) % sh or (self.W + 2 * pw - self.kw) % sw
        return {
            "N > 1": self.N > 1,
            "C != D": self.C != self.D,
            "C == D": self.C == self.D,
            "stride > 1": max(sh, sw) > 1,
            "stride 1": max(sh, sw) == 1,
            "stride > kernel": sh > self.kh or sw > self.kw,
            "padding 0": max(ph, pw) == 0,
            "padding > 0": max(ph, pw) > 0,
            "overlapping windows": (self.kh > sh and Ho > 1) or (self.kw > sw and Wo > 1),
            "rows no window reaches": bool(left),
            "non-square input": self.H != self.W,
            "non-square kernel": self.kh != self.kw,
        }

    def describe(self):
        """Short text: shapes (NCHW) and hyper-parameters."""
        family = f", dilation {self.dilation}, groups {self.groups}" if self.family else ""
        return (
            f"x {(self.N, self.C, self.H, self.W)}, w {(self.D, self.C // self.groups, self.kh, self.kw)}, "
            f"stride {self.stride}, padding {self.padding}{family}"
        )


@dataclass(frozen=True)
class PoolCase:
    """One pooling: shapes, window size, stride and the seed of its values.

    Parameters
    ----------
    N, C, H, W : int
        Input shape (N, C, H, W).
    size : int or (kh, kw)
        Window size, stored as a pair.
    stride : int or (sh, sw) or None
        None means stride = size; stored as a pair.
    seed : int
    ties : bool
        Integer-valued x (from -2..2), so that windows hold tied maxima. Only for
        non-overlapping windows, where every valid routing of a tie can be recognised.
    """

    N: int
    C: int
    H: int
    W: int
    size: tuple[int, int] = (2, 2)
    stride: tuple[int, int] | None = None
    seed: int = 0
    ties: bool = False

    def __post_init__(self):
        object.__setattr__(self, "size", as_pair(self.size, "size"))
        stride = self.size if self.stride is None else self.stride
        object.__setattr__(self, "stride", as_pair(stride, "stride"))

    @property
    def out_hw(self):
        (kh, kw), (sh, sw) = self.size, self.stride
        return conv_output_size(self.H, kh, sh, 0), conv_output_size(self.W, kw, sw, 0)

    @property
    def overlapping(self):
        """True when some pixel belongs to two windows."""
        (kh, kw), (sh, sw), (Ho, Wo) = self.size, self.stride, self.out_hw
        return (kh > sh and Ho > 1) or (kw > sw and Wo > 1)

    def arrays(self, dtype=np.float64):
        """x (N, C, H, W) (integer-valued when ``ties``) and dy (N, C, Ho, Wo) standard normal."""
        rng = np.random.default_rng(self.seed)
        shape = (self.N, self.C, self.H, self.W)
        x = rng.integers(-2, 3, size=shape).astype(float) if self.ties else rng.standard_normal(shape)
        dy = rng.standard_normal((self.N, self.C, *self.out_hw))
        return {"x": x.astype(dtype), "dy": dy.astype(dtype)}

    def features(self):
        """The properties of this case a bug can depend on, as short phrases."""
        (kh, kw), (sh, sw) = self.size, self.stride
        left = (self.H - kh) % sh or (self.W - kw) % sw
        return {
            "N > 1": self.N > 1,
            "stride > 1": max(sh, sw) > 1,
            "stride 1": max(sh, sw) == 1,
            "stride > kernel": sh > kh or sw > kw,
            "stride != size": (sh, sw) != (kh, kw),
            "overlapping windows": self.overlapping,
            "tied maxima": self.ties,
            "rows no window reaches": bool(left),
            "non-square input": self.H != self.W,
            "non-square kernel": kh != kw,
        }

    def describe(self):
        return f"x {(self.N, self.C, self.H, self.W)}, size {self.size}, stride {self.stride}"


# Ordered so that the first cases are plain ones (a learner sees the simple failures first)
# and each feature above covers a different subset of cases in every convention, which is
# what lets the diagnosis say "only with padding 0" rather than "only with padding 0 or C != D".
CONV_CASES = (
    ConvCase(N=2, C=3, D=2, H=5, W=5, kh=3, kw=3, stride=1, padding=0, seed=101),
    ConvCase(N=2, C=2, D=2, H=4, W=6, kh=2, kw=2, stride=1, padding=1, seed=102),
    ConvCase(N=1, C=2, D=3, H=8, W=8, kh=3, kw=3, stride=2, padding=1, seed=103),
    ConvCase(N=2, C=3, D=3, H=7, W=8, kh=2, kw=2, stride=3, padding=0, seed=104),
    ConvCase(N=2, C=2, D=3, H=6, W=6, kh=3, kw=3, stride=3, padding=2, seed=105),
    ConvCase(N=2, C=2, D=2, H=5, W=5, kh=3, kw=3, stride=2, padding=0, seed=106),
    ConvCase(N=2, C=2, D=3, H=5, W=6, kh=2, kw=3, stride=1, padding=1, seed=107),
    ConvCase(N=2, C=3, D=2, H=6, W=7, kh=3, kw=2, stride=(2, 1), padding=(1, 0), seed=108),
    ConvCase(N=1, C=2, D=2, H=7, W=5, kh=2, kw=3, stride=(3, 2), padding=(0, 2), seed=109),
)

POOL_CASES = (
    PoolCase(N=2, C=3, H=4, W=4, size=2, stride=2, seed=201, ties=True),
    PoolCase(N=2, C=2, H=5, W=6, size=3, stride=2, seed=202),
    PoolCase(N=1, C=2, H=7, W=8, size=2, stride=3, seed=203, ties=True),
    PoolCase(N=2, C=2, H=6, W=6, size=3, stride=3, seed=204, ties=True),
    PoolCase(N=2, C=1, H=5, W=6, size=2, stride=1, seed=205),
    PoolCase(N=2, C=2, H=6, W=7, size=(2, 3), stride=2, seed=206),
    PoolCase(N=1, C=2, H=7, W=9, size=(2, 3), stride=3, seed=207, ties=True),
    PoolCase(N=2, C=2, H=6, W=5, size=(3, 2), stride=(2, 1), seed=208),
    # H != W with stride = window, square windows: what deeplearning.ai's convention can express, so that
    # a loop bounding the column offset by the height (or the row offset by the width) shows there
    PoolCase(N=2, C=2, H=4, W=8, size=2, stride=2, seed=209),
    PoolCase(N=1, C=3, H=9, W=6, size=3, stride=3, seed=210),
)

# Drawn in addition to the default cases when assume= is given: inside every assumption (square
# kernels, (H + 2p - k) divisible by the stride, one int stride and padding), so that the cases
# left still vary stride, padding, overlap and the input's shape.
ASSUME_CONV_CASES = (
    ConvCase(N=2, C=3, D=2, H=7, W=7, kh=3, kw=3, stride=2, padding=1, seed=111),
    ConvCase(N=2, C=2, D=3, H=8, W=6, kh=2, kw=2, stride=2, padding=0, seed=112),
    ConvCase(N=2, C=2, D=3, H=9, W=9, kh=3, kw=3, stride=3, padding=0, seed=113),
    ConvCase(N=2, C=3, D=2, H=6, W=4, kh=3, kw=3, stride=1, padding=2, seed=114),
    ConvCase(N=2, C=2, D=2, H=8, W=8, kh=2, kw=2, stride=3, padding=0, seed=115),
)
ASSUME_POOL_CASES = (
    PoolCase(N=2, C=2, H=7, W=7, size=3, stride=2, seed=211),
    PoolCase(N=2, C=3, H=6, W=8, size=2, stride=2, seed=212, ties=True),
)
