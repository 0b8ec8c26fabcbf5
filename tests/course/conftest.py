"""Plotting set-up for the course tests: figures drawn off screen, and closed after each test."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")  # tests draw figures off screen


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew, so memory does not grow across the suite."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
