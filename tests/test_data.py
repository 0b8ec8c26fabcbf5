"""Tests of cnnlib.data: the 28x28 digits loader and its bilinear upsampling."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlib import data

# the digits are scikit-learn's file (a course requirement); the maths-only venv has no
# scikit-learn and skips the tests that read it, the full test run has it and runs them
NEEDS_DIGITS = "scikit-learn installs the digits file (requirements.txt)"


@pytest.fixture(scope="module")
def splits():
    pytest.importorskip("sklearn", reason=NEEDS_DIGITS)
    return {s: data.load_digits28(s) for s in ("train", "test", "all")}


def test_shapes_dtypes_and_range(splits):
    for split, n in (("train", 1442), ("test", 355), ("all", 1797)):
        X, y = splits[split]
        assert X.shape == (n, 1, 28, 28) and X.dtype == np.float64
        assert y.shape == (n,) and np.issubdtype(y.dtype, np.integer)
        assert X.min() == 0.0 and X.max() == 1.0
        assert set(np.unique(y)) == set(range(10))


def test_border_is_background(splits):
    X, _ = splits["all"]
    assert not X[:, :, :2].any() and not X[:, :, -2:].any()
    assert not X[:, :, :, :2].any() and not X[:, :, :, -2:].any()


def test_split_is_a_fixed_stratified_partition(splits):
    X_all, y_all = splits["all"]
    X_tr, y_tr = splits["train"]
    X_te, y_te = splits["test"]
    # train and test together are the whole set, each image exactly once
    assert len(y_tr) + len(y_te) == len(y_all)
    merged = np.concatenate([X_tr, X_te]).reshape(len(y_all), -1)
    assert len(np.unique(merged, axis=0)) == len(np.unique(X_all.reshape(len(y_all), -1), axis=0))
    # every class is about 20% test
    frac = np.bincount(y_te, minlength=10) / np.bincount(y_all, minlength=10)
    assert np.all((frac > 0.18) & (frac < 0.22))
    # fixed: a second call returns the same arrays
    X2, y2 = data.load_digits28("test")
    assert np.array_equal(X2, X_te) and np.array_equal(y2, y_te)


def test_images_are_the_upsampled_sklearn_digits(splits):
    pytest.importorskip("sklearn", reason=NEEDS_DIGITS)
    images, labels = data.load_digits8()
    X, y = splits["all"]
    assert np.array_equal(y, labels)
    # the 24x24 interior is the 8x8 image upsampled by 3: the centre pixel of each 3x3
    # block sits exactly on an original pixel, so it equals it
    assert np.allclose(X[:, 0, 3:26:3, 3:26:3], images / 16)


def test_file_reader_matches_sklearn_loader():
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason=NEEDS_DIGITS)
    digits = sklearn_datasets.load_digits()
    images, labels = data.load_digits8()
    assert np.array_equal(images, digits.images)
    assert np.array_equal(labels, digits.target)


def test_upsample_bilinear_properties():
    rng = np.random.default_rng(0)
    img = rng.random((2, 4, 5))
    up = data.upsample_bilinear(img, 3)
    assert up.shape == (2, 12, 15)
    # a constant image stays constant; values stay within the input's range
    assert np.allclose(data.upsample_bilinear(np.full((1, 3, 3), 0.7), 4), 0.7)
    assert up.min() >= img.min() - 1e-12 and up.max() <= img.max() + 1e-12
    # factor 1 is the identity
    assert np.allclose(data.upsample_bilinear(img, 1), img)
    # along a linear ramp the interior is linear too: pixel centres line up
    ramp = np.arange(4.0)[None, None, :].repeat(2, axis=1)
    row = data.upsample_bilinear(ramp, 2)[0, 0]
    assert np.allclose(row, [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


@pytest.mark.parametrize("bad", ["valid", "Train", None])
def test_bad_split_names(bad):
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_digits28(bad)


@pytest.mark.parametrize("factor", [0, -1, 1.5, True])
def test_bad_factor(factor):
    with pytest.raises(ValueError, match="factor must be a positive int"):
        data.upsample_bilinear(np.zeros((1, 2, 2)), factor)


def test_bad_image_shape():
    with pytest.raises(ValueError, match=r"shape \(N, H, W\)"):
        data.upsample_bilinear(np.zeros((2, 2)), 2)
