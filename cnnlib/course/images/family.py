"""The README figure of notebook 08: dilation, groups and a receptive field measured by backprop."""

from __future__ import annotations

from ..ch08_convolution_family import family_picture
from .common import save


def convolution_family(path):
    """Notebook 08's opening picture (10.8 in wide: 1,080 px at the images' dpi)."""
    return save(family_picture(), path)
