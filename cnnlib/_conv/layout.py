"""The sizes of one convolution, and of the work buffer the grid route lays its input out in.

``layout(...)`` is computed once per call from checked shapes; both routes read their
sizes from it, and ``wasteful`` is what ``route.py`` chooses the route by.
"""

from __future__ import annotations

from typing import NamedTuple

# Columns of one image (entries), 512 KiB in float32, from which the grid computes only the output rows
ONE_IMAGE_COLUMNS = 1 << 17


class Layout(NamedTuple):
    """Sizes of a convolution and of its channel-major, phase-split work buffer."""

    N: int
    C: int
    H: int
    W: int
    D: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    Ho: int
    Wo: int
    Hq: int  # rows of one phase: ceil((H + 2ph) / sh)
    Wq: int  # columns of one phase, ceil((W + 2pw) / sw): output columns computed per row (j < Wo are kept)
    dil_h: int = 1  # dilation: offset (m, n) reads padded row i·sh + m·dil_h, column j·sw + n·dil_w
    dil_w: int = 1
    G: int = 1  # groups: channels and kernels in G blocks, kernel d reading only its block's channels
    Hc: int = 0  # rows of window positions computed per image (``computed_rows``), set by ``layout``

    @property
    def x_shape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def K(self):
        """Rows of the columns matrix: one per (c, m, n)."""
        return self.C * self.kh * self.kw

    @property
    def dilation(self):
        return (self.dil_h, self.dil_w)

    @property
    def P(self):
        """Columns per image: Hc rows of Wq window positions; only i < Ho, j < Wo are outputs."""
        return self.Hc * self.Wq

    @property
    def phase_size(self):
        """Entries of one phase: (C, N, Hq, Wq)."""
        return self.C * self.N * self.Hq * self.Wq

    @property
    def buffer_size(self):
        # the shifted view of the last phase runs past its end by at most
        # (kh-1)·dil_h//sh rows and a row's width: a zero tail keeps it inside the buffer
        return self.sh * self.sw * self.phase_size + ((self.kh - 1) * self.dil_h // self.sh + 1) * self.Wq

    @property
    def wasteful(self):
        """True when the grid would be mostly garbage: the windows route is then cheaper.

        Grid positions per output (P / Ho·Wo) and buffer per padded pixel are 1.0-1.4
        for the usual shapes; a kernel as large as the input makes the first ~H·W, a
        stride far beyond the input the second ~stride². Past about 2x the real windows
        alone are faster (crossover 1.8x-2.6x measured on 32x32 inputs, 5x5 to 23x23 kernels).
        """
        padded = (self.H + 2 * self.ph) * (self.W + 2 * self.pw)
        return self.P > 2 * self.Ho * self.Wo or self.sh * self.Hq * self.sw * self.Wq > 2 * padded

    def start(self, m, n=0):
        """Flat index, in the work buffer, of the first pixel kernel offset (m, n) reads.

        That pixel is padded row r = m·dil_h, column q = n·dil_w: row r // sh, column
        q // sw of phase (r mod sh, q mod sw).
        """
        r, q = m * self.dil_h, n * self.dil_w
        phase = (r % self.sh) * self.sw + q % self.sw
        return phase * self.phase_size + (r // self.sh) * self.Wq + q // self.sw


def computed_rows(g):
    """Rows of window positions computed per image: Hq, or only the Ho output rows.

    With all Hq rows the windows of all images are one run per channel, copied and
    added in C long NumPy loops; skipping rows i >= Ho costs a loop per image and
    channel (+20% on bench_conv.py's case A) and saves their products: worth it for a
    dilated kernel (d(k − 1) rows past the last output), when they are more than a quarter of
    the grid, or when an image's columns are large (``ONE_IMAGE_COLUMNS``): the
    blocks then hold a few images each, and loop over them anyway (bench_modern.py's
    3x3 convolution: 0.88x the time in float32, 0.93x in float64).
    """
    one_image = g.K * g.Hq * g.Wq >= ONE_IMAGE_COLUMNS
    return g.Ho if g.dil_h > 1 or 4 * (g.Hq - g.Ho) > g.Hq or one_image else g.Hq


def layout(x_shape, w_shape, stride, padding, out_shape, dilation=(1, 1), groups=1):
    """The Layout of a convolution of these checked sizes (Hc included: read in every loop)."""
    (N, C, H, W), (D, _, kh, kw), (sh, sw), (ph, pw) = x_shape, w_shape, stride, padding
    Hq, Wq = -(-(H + 2 * ph) // sh), -(-(W + 2 * pw) // sw)  # ceil
    g = Layout(N, C, H, W, D, kh, kw, sh, sw, ph, pw, *out_shape[2:], Hq, Wq, *dilation, groups)
    return g._replace(Hc=computed_rows(g))


def transposed(g):
    """The layout of ∂E/∂x of a stride-1 convolution g computed as a convolution of δ.

    ∂E/∂x[c, r] = Σ_d Σ_m δ[d, r + p − m·dil] · w[d, c, m] is δ, zero-padded by
    dil·(k − 1) − p, correlated with rot180(w) with the channels swapped (C kernels of
    D/G channels each, group by group), at stride 1 and the same dilation: input
    (N, D, Ho, Wo), output (N, C, H, W). Needs p <= dil·(k − 1) on both axes.
    """
    padding = (g.dil_h * (g.kh - 1) - g.ph, g.dil_w * (g.kw - 1) - g.pw)
    w_shape = (g.C, g.D // g.G, g.kh, g.kw)
    return layout((g.N, g.D, g.Ho, g.Wo), w_shape, (1, 1), padding, g.x_shape, g.dilation, g.G)
