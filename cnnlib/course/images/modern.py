"""The README figure of notebook 09: ‖δ‖ over depth, plain vs residual, with and without batch norm."""

from __future__ import annotations

from ...data import load_digits28
from ...pool import avgpool2d_forward
from ..ch09_the_modern_block import init_norms, norms_picture
from .common import save


def modern_block(path):
    """‖δ‖ at every block of a 16-block stack at initialisation, on 64 test digits at 8×8 (1,000 px wide)."""
    X28, y = load_digits28("test")
    X = avgpool2d_forward(X28[:64, :, 2:26, 2:26], 3)  # the notebook's 8x8 digits
    norms = init_norms(16, X, y[:64])
    fig = norms_picture(norms, "‖δ‖ at every block of a 16-block stack at initialisation (64 digits)")
    return save(fig, path)
