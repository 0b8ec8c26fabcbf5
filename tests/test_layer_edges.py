"""Layers, models, losses and helpers at the edges (issue 13): no silent wrong answer, clear
errors, empty batches."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference


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


# --- item 1: one instance twice in a Sequential ---------------------------------------------


def test_the_same_layer_twice_is_a_value_error_naming_it_and_its_positions():
    """act used at positions 1 and 3 would backpropagate through position 1 with the input of
    position 3: rejected at construction, naming the layer, both positions and the cure."""
    act = cl.Tanh()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Tanh\(\) instance is at positions \[1, 3\].*two instances"):
        cl.Sequential([cl.Dense(3, 3, rng=rng), act, cl.Dense(3, 3, rng=rng), act])
    cl.Sequential([cl.Dense(3, 3, rng=rng), cl.Tanh(), cl.Dense(3, 3, rng=rng), cl.Tanh()])  # fine


# --- item 4: a loss over zero samples ---------------------------------------------------------


@pytest.mark.filterwarnings("error")
def test_losses_of_an_empty_batch_are_a_value_error():
    """mean over zero samples: a ValueError (it was nan with a RuntimeWarning)."""
    with pytest.raises(ValueError, match=r"at least one sample, got an empty batch of shape \(0, 3\)"):
        cl.mse_loss(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"at least one sample, got an empty batch of shape \(0, 3\)"):
        cl.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_fit_with_no_examples_is_a_value_error():
    """fit with N = 0 trained nothing and returned an empty history: now a ValueError."""
    net = cl.Sequential([cl.Dense(2, 2, rng=0)])
    with pytest.raises(ValueError, match=r"X holds no examples \(N = 0\)"):
        cl.fit(net, np.zeros((0, 2)), np.zeros(0, int), loss=cl.softmax_cross_entropy, lr=0.1,
               epochs=1, batch_size=4, rng=0)  # fmt: skip


# --- item 5: dtypes ---------------------------------------------------------------------------


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


# --- item 7: layers keep their own copy -----------------------------------------------------


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


# --- item 8: empty batches flow through every layer ---------------------------------------------


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


# --- item 9: rng as a seed, a Generator or None --------------------------------------------------


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


def test_fit_with_an_int_seed_is_reproducible():
    X, y = np.random.default_rng(0).standard_normal((10, 3)), np.arange(10) % 2
    runs = [
        cl.fit(cl.Sequential([cl.Dense(3, 2, rng=1)]), X, y, loss=cl.softmax_cross_entropy, lr=0.1,
               epochs=2, batch_size=3, rng=7)["loss"]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]


# --- item 10: mistakes caught at construction -----------------------------------------------------


def test_sgd_of_none_is_a_type_error():
    with pytest.raises(TypeError, match=r"SGD needs a Sequential or a Layer .*got None"):
        cl.SGD(None, 0.1)


def test_sgd_of_a_layer_class_is_a_type_error():
    with pytest.raises(TypeError, match=r"got the class ReLU"):
        cl.SGD(cl.ReLU, 0.1)


def test_sequential_of_a_class_is_a_type_error():
    """[cl.ReLU] instead of [cl.ReLU()]: the message says how to write it."""
    with pytest.raises(TypeError, match=r"layer 1 is the class ReLU, not a layer: write ReLU\(\.\.\.\)"):
        cl.Sequential([cl.Flatten(), cl.ReLU])


# --- item 11: small helpers at their edges ----------------------------------------------------------


def test_dilate_of_an_empty_array():
    """An empty axis stays empty (it was "negative dimensions are not allowed")."""
    assert cl.dilate(np.zeros((2, 0, 3)), 2).shape == (2, 0, 5)
    assert cl.dilate(np.zeros((0, 0)), (2, 3)).shape == (0, 0)


def test_array_strides_are_accepted_like_ints_and_pairs():
    """np.array(2) means 2 and np.array([2, 3]) means (2, 3), in dilate, the convolution and the
    pools; a 0-d float array is still a TypeError."""
    a = np.arange(4.0).reshape(2, 2)
    np.testing.assert_array_equal(cl.dilate(a, np.array(2)), cl.dilate(a, 2))
    np.testing.assert_array_equal(cl.dilate(a, np.array([2, 3])), cl.dilate(a, (2, 3)))
    x, w = np.random.default_rng(0).standard_normal((1, 1, 6, 6)), np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(
        cl.conv2d_forward(x, w, None, np.array(2), np.array(1)), cl.conv2d_forward(x, w, None, 2, 1)
    )
    np.testing.assert_array_equal(
        cl.maxpool2d_forward(x, np.array(2), np.array([1, 2])), cl.maxpool2d_forward(x, 2, (1, 2))
    )
    assert cl.conv_output_size(6, 2, np.array(2), np.array(1)) == 4
    with pytest.raises(TypeError, match=r"stride must be an int"):
        cl.dilate(a, np.array(2.0))


def test_conv_output_size_of_an_empty_axis_matches_the_convolution():
    """n = 0 with padding: the windows read only padding, as the convolution does."""
    assert cl.conv_output_size(0, 1, 1, 1) == 2
    assert cl.conv_output_size(0, 3, 2, 2) == 1
    y = cl.conv2d_forward(np.zeros((1, 1, 0, 0)), np.ones((1, 1, 3, 3)), np.array([1.0]), 2, 2)
    assert y.shape == (1, 1, 1, 1) and y.item() == 1.0
    np.testing.assert_array_equal(
        y, reference.conv2d_forward(np.zeros((1, 1, 0, 0)), np.ones((1, 1, 3, 3)), np.array([1.0]), 2, 2)
    )


def test_fit_with_a_scalar_x_is_a_value_error():
    net = cl.Sequential([cl.Dense(1, 1, rng=0)])
    with pytest.raises(
        ValueError, match=r"X and y must have a batch axis, shape \(N, \.\.\.\), got X.shape=\(\)"
    ):
        cl.fit(net, 3.0, [1.0], loss=cl.mse_loss, lr=0.1, epochs=1, batch_size=1, rng=0)


def test_numerical_gradient_of_a_non_scalar_f_names_the_shape():
    with pytest.raises(ValueError, match=r"f must return a scalar .*got an array of shape \(3,\)"):
        cl.numerical_gradient(lambda v: 2 * v, np.ones(3))
    assert cl.numerical_gradient(lambda v: np.sum(v * v), np.ones(2)).tolist() == pytest.approx([2.0, 2.0])
