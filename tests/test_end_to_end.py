"""End to end: a small CNN learns to tell horizontal from vertical bars with cl.fit."""

from __future__ import annotations

import time

import numpy as np

import cnnlib as cl


def bars(n, size, rng):
    """n noisy size x size images, each with one horizontal (label 0) or vertical (label 1) bar
    of length 4 at a random place."""
    X = 0.1 * rng.standard_normal((n, 1, size, size))
    y = rng.integers(0, 2, size=n)
    for k in range(n):
        i, j = rng.integers(0, size), rng.integers(0, size - 3)
        if y[k] == 0:
            X[k, 0, i, j : j + 4] += 1.0
        else:
            X[k, 0, j : j + 4, i] += 1.0
    return X, y


def test_cnn_learns_bars():
    """Conv2D → ReLU → MaxPool2D → Flatten → Dense trained by fit: the mean of the last 10 step
    losses is at least 10x below the first 10, validation accuracy ends near 1, in seconds."""
    rng = np.random.default_rng(0)
    X, y = bars(256, 8, rng)
    Xv, yv = bars(64, 8, rng)
    model = cl.Sequential(
        [
            cl.Conv2D(1, 4, 3, padding=1, rng=rng),
            cl.ReLU(),
            cl.MaxPool2D(2),
            cl.Flatten(),
            cl.Dense(4 * 4 * 4, 2, rng=rng),
        ]
    )
    start = time.process_time()  # CPU time: other jobs on a shared machine do not count
    hist = cl.fit(model, X, y, loss=cl.softmax_cross_entropy, lr=0.5, epochs=12, batch_size=16, rng=rng,
                  val=(Xv, yv))  # fmt: skip
    elapsed = time.process_time() - start
    first, last = np.mean(hist["loss"][:10]), np.mean(hist["loss"][-10:])
    assert first > 0.5  # it starts near log 2: nothing learned yet
    assert last < first / 10, f"loss fell only from {first:.3f} to {last:.3f}"
    assert hist["val_acc"][-1] >= 0.95
    assert elapsed < 5.0
