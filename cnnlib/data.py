"""Small data sets that need no download at run time.

``load_digits28`` gives real handwritten digits at the 28x28 size of the network in
"How propagate the error delta in backpropagation in convolutional neural networks
(CNN)?": scikit-learn's bundled 8x8 digits (1797 images, installed with the package),
upsampled bilinearly to 24x24 and padded with 2 zeros on each side.

Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

SPLITS = ("train", "test", "all")


def upsample_bilinear(images: ArrayLike, factor: int) -> np.ndarray:
    """Bilinear upsampling of a stack of 2-D images by an integer factor.

    Parameters
    ----------
    images : array-like of shape (N, H, W)
    factor : int
        Each side grows by this factor.

    Returns
    -------
    ndarray of shape (N, H·factor, W·factor), float64

    Notes
    -----
    Output pixel u sits at source coordinate (u + ½)/factor − ½ (pixel centres line
    up, as in ``align_corners=False``), clamped to the image; its value interpolates
    linearly between the two nearest source pixels along each axis. Both axes at once:
    out = A · img · Bᵀ with A (H·factor, H) and B (W·factor, W) the interpolation
    matrices, whose rows sum to 1 (so a constant image stays constant).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got shape {images.shape}")
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    A = _interpolation_matrix(images.shape[1], int(factor))
    B = _interpolation_matrix(images.shape[2], int(factor))
    return A @ images @ B.T


def _interpolation_matrix(n, factor):
    """(n·factor, n) matrix of linear-interpolation weights along one axis."""
    pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    M = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    M[rows, lo] += 1 - frac
    M[rows, hi] += frac
    return M


def load_digits8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits, as stored in the file it installs.

    Returns
    -------
    images : ndarray of shape (1797, 8, 8), float64
        Integer intensities 0-16.
    labels : ndarray of shape (1797,), int64

    Notes
    -----
    Reads ``sklearn/datasets/data/digits.csv.gz`` (64 pixels and the label per line)
    without importing scikit-learn, whose import costs about a second; falls back to
    ``sklearn.datasets.load_digits`` if the file is not where it is expected. Either
    way nothing is downloaded.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("load_digits8 needs scikit-learn (pip install scikit-learn)")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if path.is_file():
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        return table[:, :64].reshape(-1, 8, 8).astype(np.float64), table[:, 64]
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype(np.float64), digits.target.astype(np.int64)


def load_digits28(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Real handwritten digits 0-9 as 28x28 images in [0, 1], NCHW, with a fixed split.

    Parameters
    ----------
    split : {"train", "test", "all"}
        The split is fixed (no randomness): within each class, in the data set's
        order, every 5th image (the 5th, 10th, ...) is a test image. "train" has
        1442 images, "test" 355, "all" 1797; every class is in both in proportion.

    Returns
    -------
    X : ndarray of shape (N, 1, 28, 28), float64
        Ink intensity in [0, 1] (0 = background), on a dark background like MNIST.
    y : ndarray of shape (N,), int64
        The digit, 0-9.

    Notes
    -----
    Source: scikit-learn's ``load_digits`` (the UCI optical recognition of
    handwritten digits test set: 8x8 images with integer intensities 0-16, read from
    a file installed with scikit-learn, so nothing is downloaded). Each image is
    divided by 16, upsampled bilinearly by 3 to 24x24 (``upsample_bilinear``) and
    zero-padded by 2 to 28x28, the input size of the network in "How propagate the
    error delta in backpropagation in convolutional neural networks (CNN)?".
    Used in notebooks/05_pooling_and_a_full_cnn.ipynb.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    images, labels = load_digits8()
    big = upsample_bilinear(images / 16.0, 3)
    X = np.pad(big, ((0, 0), (2, 2), (2, 2)))[:, None]
    if split == "all":
        return X, labels
    # rank of each image among the images of its class, in the data set's order
    rank = np.empty(len(labels), dtype=np.int64)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        rank[where] = np.arange(len(where))
    is_test = rank % 5 == 4
    keep = is_test if split == "test" else ~is_test
    return X[keep], labels[keep]
