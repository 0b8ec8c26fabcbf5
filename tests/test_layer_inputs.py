"""Layers at the edges of their input: dtypes, their own copy of x, empty batches, rng.

No silent wrong answer: a dtype the design does not take is a TypeError naming it, a caller
changing x after the forward changes no gradient, an empty batch flows through a whole net."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlib as cl


def small_net(rng=0):
    return cl.Sequential(
        [
            cl.Conv2D(2, 3, 3, padding=1, rng=rng),
            cl.ReLU(),
            cl.MaxPool2D(2),
            cl.AvgPool2D(1),
            cl.Sigmoid(),
            cl.Flatten(),
            cl.Dense(12, 4, rng=rng),
            cl.Tanh(),
        ]
    )


# --- dtypes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.complex128, bool, "float128", None])
@pytest.mark.parametrize(
    "make", [lambda dt: cl.Conv2D(1, 2, 3, rng=0, dtype=dt), lambda dt: cl.Dense(2, 3, rng=0, dtype=dt)]
)
def test_a_layer_dtype_other_than_float32_or_64_is_a_type_error(make, dtype):
    """int32 gave all-zero weights, float16 was accepted: both are a TypeError now."""
    if dtype == "float128" and not hasattr(np, "float128"):
        pytest.skip("no float128 here")
    with pytest.raises(TypeError, match=r"dtype must be np.float32 or np.float64, got"):
        make(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_float_layer_dtypes_are_accepted(dtype):
    assert cl.Conv2D(1, 2, 3, rng=0, dtype=dtype).params["w"].dtype == np.dtype(dtype)
    assert cl.Dense(2, 3, rng=0, dtype=dtype).params["b"].dtype == np.dtype(dtype)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([1, 2], dtype="m8[s]"),
        np.array(["2024-01-01"], dtype="M8[D]"),
        np.array([1, "a"], dtype=object),
        np.array(["1.5"]),
        np.array([1 + 1j]),
    ],
    ids=["timedelta64", "datetime64", "object", "str", "complex"],
)
def test_non_numeric_inputs_are_a_type_error_naming_the_dtype(bad):
    """timedelta64 used to pass as a number; every non-real dtype is named in a TypeError."""
    for f in (cl.activations.relu, lambda a: cl.ReLU().forward(a), lambda a: cl.mse_loss(a, a)):
        with pytest.raises(
            TypeError, match=rf"must hold real numbers, got dtype {re.escape(str(bad.dtype))}"
        ):
            f(bad)


def test_other_numeric_inputs_convert_as_the_design_says():
    """float32 stays float32; ints, bools and float16 become float64."""
    assert cl.ReLU().forward(np.ones(2, np.float32)).dtype == np.float32
    for a in (np.ones(2, np.int16), np.ones(2, bool), np.ones(2, np.float16), [1, 2]):
        assert cl.ReLU().forward(a).dtype == np.float64


@pytest.mark.parametrize("labels", [np.array([True, False]), [True, False], np.array([0, 1], dtype="m8[s]")])
def test_bool_or_timedelta_labels_are_a_type_error(labels):
    """Labels are class indices: booleans (Python counts them as ints) and timedelta64 (NumPy
    counts it as an integer) are rejected, naming the dtype."""
    with pytest.raises(
        TypeError, match=r"labels must be integer class indices, got dtype (bool|object|timedelta)"
    ):
        cl.softmax_cross_entropy(np.zeros((2, 3)), labels)


# --- layers keep their own copy ------------------------------------------------------------


def _forward_mutate_backward(layer, x, dy, mutate):
    layer.forward(x)
    if mutate:
        x[...] = np.random.default_rng(99).standard_normal(x.shape)
    return layer.backward(dy), {k: g.copy() for k, g in layer.grads.items()}


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (lambda: cl.ReLU(), (2, 3, 4, 4)),
        (lambda: cl.Sigmoid(), (2, 3, 4, 4)),
        (lambda: cl.Tanh(), (2, 3, 4, 4)),
        (lambda: cl.Dense(5, 3, rng=0), (2, 5)),
        (lambda: cl.MaxPool2D(2), (2, 3, 4, 4)),
        (lambda: cl.AvgPool2D(2), (2, 3, 4, 4)),
        (lambda: cl.Flatten(), (2, 3, 4, 4)),
        (lambda: cl.Conv2D(3, 2, 3, rng=0), (2, 3, 4, 4)),
        (lambda: cl.Conv2D(3, 2, 4, rng=0), (2, 3, 4, 4)),  # kernel as large as the input
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_changing_x_in_place_after_forward_changes_no_gradient(make, shape, dtype):
    """The caller overwrites x between forward and backward: dx and the parameter gradients are
    those of the x the forward saw (they changed with it before)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    layer = make()
    dy = rng.standard_normal(layer.forward(x.copy()).shape)
    expected = _forward_mutate_backward(make(), x.copy(), dy, mutate=False)
    got = _forward_mutate_backward(make(), x, dy, mutate=True)
    np.testing.assert_array_equal(got[0], expected[0])
    for key in expected[1]:
        np.testing.assert_array_equal(got[1][key], expected[1][key])


# --- empty batches flow through every layer ---------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_empty_batch_flows_through_a_whole_net(dtype):
    """N = 0 through Conv2D, ReLU, MaxPool2D, AvgPool2D, Sigmoid, Flatten, Dense, Tanh: forward
    gives (0, 4), backward (0, 2, 4, 4), every parameter gradient zeros of its shape."""
    net = small_net()
    x = np.zeros((0, 2, 4, 4), dtype=dtype)
    y = net.forward(x)
    assert y.shape == (0, 4)
    dx = net.backward(np.zeros((0, 4), dtype=dtype))
    assert dx.shape == (0, 2, 4, 4)
    for layer in net.layers:
        for key, p in layer.params.items():
            assert layer.grads[key].shape == p.shape and not layer.grads[key].any()


def test_flatten_of_an_empty_batch():
    """Flatten reshaped with -1, which NumPy cannot infer for 0 elements."""
    f = cl.Flatten()
    assert f.forward(np.zeros((0, 2, 3, 4))).shape == (0, 24)
    assert f.backward(np.zeros((0, 24))).shape == (0, 2, 3, 4)


# --- rng as a seed, a Generator or None --------------------------------------------------


@pytest.mark.parametrize("rng", [42, np.int64(42), None, np.random.default_rng(42)])
def test_rng_takes_a_seed_a_generator_or_none(rng):
    """Conv2D, Dense, fit and gradcheck_layer take what np.random.default_rng takes; the same
    int seed gives the same weights as a Generator of that seed."""
    conv, dense = cl.Conv2D(1, 2, 3, rng=rng), cl.Dense(3, 2, rng=rng)
    if rng is not None and not isinstance(rng, np.random.Generator):
        np.testing.assert_array_equal(
            conv.params["w"], cl.Conv2D(1, 2, 3, rng=np.random.default_rng(42)).params["w"]
        )
        np.testing.assert_array_equal(
            dense.params["w"], cl.Dense(3, 2, rng=np.random.default_rng(42)).params["w"]
        )
    net = cl.Sequential([cl.Dense(3, 2, rng=0)])
    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.array([0, 1] * 3)
    hist = cl.fit(net, X, y, loss=cl.softmax_cross_entropy, lr=0.1, epochs=1, batch_size=4, rng=rng)
    assert len(hist["loss"]) == 2
    assert max(cl.gradcheck_layer(cl.Dense(3, 2, rng=0), X, rng).values()) < 1e-7


@pytest.mark.parametrize(
    ("rng", "error"), [("seed", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)]
)
def test_a_bad_rng_names_what_it_takes(rng, error):
    with pytest.raises(
        error, match=r"rng must be a (numpy.random.Generator, an int seed or None|non-negative)"
    ):
        cl.Dense(3, 2, rng=rng)
