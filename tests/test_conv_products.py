"""The fast path's stacked products (cnnlib._conv.products) are exactly np.matmul's."""

import numpy as np
import pytest

from cnnlib._conv.products import group_matmul


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 9, 1, 300), (4, 3, 1, 7), (2, 1, 1, 1), (1, 5, 1, 6), (3, 4, 2, 5)])
def test_group_matmul_is_matmul_bit_for_bit(dtype, shape):
    # inner size 1 (depthwise ∂E/∂x) takes the broadcast; the result must not differ in a bit
    G, r, k, c = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((G, r, k)).astype(dtype), rng.standard_normal((G, k, c)).astype(dtype)
    out = np.empty((G, r, c + 3), dtype)[:, :, :c]  # a strided out, as the grid route passes
    assert np.array_equal(group_matmul(a, b), np.matmul(a, b))
    assert np.array_equal(group_matmul(a, b, out=out), np.matmul(a, b))
    assert np.array_equal(out, np.matmul(a, b))
