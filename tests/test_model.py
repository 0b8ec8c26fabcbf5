"""Tests of cnnlib.model: Sequential (the chain rule through a stack), SGD and fit."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from strategies import FD_TOL, SEEDS, fast_settings

import cnnlib as cl


def small_cnn(seed, pool=cl.MaxPool2D, act=cl.ReLU):
    """Conv2D(1→2, 3x2, padding (1, 0)) → act → pool 2 → Flatten → Dense(2·3·2 → 3)."""
    rng = np.random.default_rng(seed)
    return cl.Sequential(
        [
            cl.Conv2D(1, 2, (3, 2), padding=(1, 0), rng=rng),
            act(),
            pool(2),
            cl.Flatten(),
            cl.Dense(12, 3, rng=rng),
        ]
    )


# --- Sequential -------------------------------------------------------------------------------------


def test_sequential_chains_forward_and_backward():
    """forward applies the layers in order, backward in reverse order, each on the previous result."""
    rng = np.random.default_rng(0)
    model = small_cnn(0)
    x = rng.standard_normal((2, 1, 6, 5))
    h = x
    for layer in model.layers:
        h = layer.forward(h)
    np.testing.assert_array_equal(model.forward(x), h)
    dy = rng.standard_normal(h.shape)
    d = dy
    for layer in reversed(model.layers):
        d = layer.backward(d)
    np.testing.assert_array_equal(model.backward(dy), d)
    assert d.shape == x.shape


@pytest.mark.parametrize(
    ("pool", "act"), [(cl.MaxPool2D, cl.ReLU), (cl.AvgPool2D, cl.Tanh), (cl.AvgPool2D, cl.Sigmoid)]
)
@fast_settings(8)
@given(seed=SEEDS)
def test_whole_cnn_matches_finite_differences(pool, act, seed):
    """The gradient of the whole stack, input and every parameter, agrees with central
    differences (the chain rule through conv, activation, pooling, flatten, dense)."""
    model = small_cnn(seed, pool, act)
    x = np.random.default_rng(seed).standard_normal((2, 1, 6, 5))
    errors = cl.gradcheck_layer(model, x, np.random.default_rng(seed + 1))
    assert set(errors) == {"x", "0.w", "0.b", "4.w", "4.b"}
    for key, err in errors.items():
        assert err < FD_TOL, f"{key}: {err:.2e}"


def test_sequential_rejects_non_layers():
    """A non-layer in the list is a TypeError naming its index and type."""
    with pytest.raises(TypeError, match=r"layer 1 must have forward and backward methods, got int"):
        cl.Sequential([cl.ReLU(), 3])


# --- SGD --------------------------------------------------------------------------------------------------


def test_sgd_updates_params_in_place():
    """step() sets p ← p − lr·grad for every parameter of every layer, in the same array objects
    (so the layers see the new values), and leaves layers without parameters alone."""
    model = small_cnn(1)
    x = np.random.default_rng(1).standard_normal((3, 1, 6, 5))
    model.backward(np.ones_like(model.forward(x)))
    arrays = {(i, k): p for i, layer in enumerate(model.layers) for k, p in layer.params.items()}
    before = {key: p.copy() for key, p in arrays.items()}
    grads = {(i, k): g.copy() for i, layer in enumerate(model.layers) for k, g in layer.grads.items()}
    assert set(arrays) == {(0, "w"), (0, "b"), (4, "w"), (4, "b")}
    cl.SGD(model, lr=0.1).step()
    for (i, k), p in arrays.items():
        assert model.layers[i].params[k] is p
        np.testing.assert_allclose(p, before[(i, k)] - 0.1 * grads[(i, k)], rtol=1e-15, atol=1e-15)


def test_sgd_on_a_single_layer():
    """SGD accepts a bare layer as well as a Sequential."""
    layer = cl.Dense(2, 1, rng=np.random.default_rng(0))
    w0 = layer.params["w"].copy()
    layer.forward(np.array([[1.0, 2.0]]))
    layer.backward(np.array([[1.0]]))
    cl.SGD(layer, 0.5).step()
    np.testing.assert_allclose(layer.params["w"], w0 - 0.5 * np.array([[1.0, 2.0]]), rtol=1e-15)


def test_sgd_descends_a_quadratic():
    """One step on E = ½‖w·x − t‖² with a small lr lowers E."""
    layer = cl.Dense(3, 2, rng=np.random.default_rng(2))
    x, t = np.random.default_rng(3).standard_normal((4, 3)), np.zeros((4, 2))
    e0, dy = cl.mse_loss(layer.forward(x), t)
    layer.backward(dy)
    cl.SGD(layer, 0.05).step()
    assert cl.mse_loss(layer.forward(x), t)[0] < e0


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf"), "0.1", None])
def test_sgd_bad_lr(lr):
    """lr must be a positive finite number: the message names what it got."""
    with pytest.raises(ValueError, match=rf"lr must be a positive number, got {re.escape(repr(lr))}"):
        cl.SGD(cl.Sequential([]), lr)


def test_sgd_step_before_backward():
    """A step without gradients is a RuntimeError naming the layer and the parameter."""
    model = cl.Sequential([cl.Dense(2, 2, rng=np.random.default_rng(0))])
    with pytest.raises(RuntimeError, match=r"Dense\(2, 2\) has no gradient for 'w'"):
        cl.SGD(model, 0.1).step()


# --- fit ---------------------------------------------------------------------------------------------


def toy_data(seed, n):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 6, 5))
    y = rng.integers(0, 3, size=n)
    return X, y


def test_fit_history_lengths_and_keys():
    """10 examples, batch 4, 2 epochs: 3 steps per epoch so 6 losses; one val_loss and val_acc per
    epoch; no val keys without val."""
    X, y = toy_data(0, 10)
    Xv, yv = toy_data(1, 5)
    kw = {"loss": cl.softmax_cross_entropy, "lr": 0.05, "epochs": 2, "batch_size": 4}
    hist = cl.fit(small_cnn(0), X, y, rng=np.random.default_rng(0), val=(Xv, yv), **kw)
    assert set(hist) == {"loss", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert len(hist["loss"]) == 6 and len(hist["val_loss"]) == 2 and len(hist["val_acc"]) == 2
    assert len(hist["train_loss"]) == 2 and len(hist["train_acc"]) == 2
    assert all(isinstance(v, float) for v in hist["loss"] + hist["val_loss"] + hist["val_acc"])
    assert all(0.0 <= a <= 1.0 for a in hist["val_acc"])
    hist = cl.fit(small_cnn(0), X, y, rng=np.random.default_rng(0), **kw)
    assert set(hist) == {"loss", "train_loss", "train_acc"} and len(hist["loss"]) == 6


def test_fit_training_metrics_per_epoch():
    """train_loss is the mean of the epoch's step losses; with lr = 1e-300 (w − lr·g == w: a model that
    does not change) train_acc is the model's accuracy on the training set; real-valued targets get no
    train_acc."""
    X, y = toy_data(10, 12)
    model = small_cnn(11)
    hist = cl.fit(model, X, y, loss=cl.softmax_cross_entropy, lr=1e-300, epochs=2, batch_size=5,
                  rng=np.random.default_rng(12))  # fmt: skip
    assert hist["train_loss"] == pytest.approx([np.mean(hist["loss"][:3]), np.mean(hist["loss"][3:])])
    accuracy = float(np.mean(model.forward(X).argmax(axis=1) == y))
    assert hist["train_acc"] == pytest.approx([accuracy, accuracy])
    linear = cl.Sequential([cl.Dense(3, 1, rng=np.random.default_rng(0))])
    hist = cl.fit(linear, np.ones((4, 3)), np.ones((4, 1)), loss=cl.mse_loss, lr=0.1, epochs=1, batch_size=2,
                  rng=np.random.default_rng(0))  # fmt: skip
    assert set(hist) == {"loss", "train_loss"}


def test_fit_losses_mean_what_they_say():
    """The first recorded loss is the untrained model's loss on the first shuffled batch; the last
    val_loss and val_acc are the trained model's loss and accuracy on the validation set."""
    X, y = toy_data(2, 12)
    Xv, yv = toy_data(3, 40)
    model = small_cnn(4)
    first_batch = np.random.default_rng(5).permutation(12)[:5]
    expected_first = cl.softmax_cross_entropy(small_cnn(4).forward(X[first_batch]), y[first_batch])[0]
    hist = cl.fit(model, X, y, loss=cl.softmax_cross_entropy, lr=0.01, epochs=3, batch_size=5,
                  rng=np.random.default_rng(5), val=(Xv, yv))  # fmt: skip
    assert hist["loss"][0] == pytest.approx(expected_first, rel=1e-12)
    out = model.forward(Xv)
    assert len(np.unique(out.argmax(axis=1))) > 1  # predictions vary, so the accuracy is informative
    assert hist["val_loss"][-1] == pytest.approx(cl.softmax_cross_entropy(out, yv)[0], rel=1e-12)
    assert hist["val_acc"][-1] == pytest.approx(np.mean(out.argmax(axis=1) == yv), rel=1e-12)


def test_fit_is_reproducible_and_leaves_data_alone():
    """The same seeds give the same history; X and y are not modified."""
    X, y = toy_data(6, 9)
    X0, y0 = X.copy(), y.copy()
    runs = [
        cl.fit(small_cnn(7), X, y, loss=cl.softmax_cross_entropy, lr=0.1, epochs=2, batch_size=4,
               rng=np.random.default_rng(8))["loss"]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_fit_with_mse_targets():
    """fit works with mse_loss and real-valued targets, and the loss goes down on a linear fit."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((32, 3))
    T = X @ np.array([[1.0, -2.0, 0.5]]).T
    hist = cl.fit(cl.Sequential([cl.Dense(3, 1, rng=rng)]), X, T, loss=cl.mse_loss, lr=0.1, epochs=20,
                  batch_size=8, rng=rng)  # fmt: skip
    assert np.mean(hist["loss"][-4:]) < 0.01 * np.mean(hist["loss"][:4])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"epochs": 0}, r"epochs must be a positive int, got 0"),
        ({"batch_size": 2.5}, r"batch_size must be a positive int, got 2\.5"),
        ({"y": np.zeros(3, dtype=int)}, r"same number of examples, got 4 and 3"),
    ],
)
def test_fit_bad_arguments(kwargs, pattern):
    """Bad epochs, batch size, or X/y lengths are a ValueError naming the values."""
    args = {"X": np.zeros((4, 2)), "y": np.zeros(4, dtype=int), "epochs": 1, "batch_size": 2} | kwargs
    with pytest.raises(ValueError, match=pattern):
        cl.fit(cl.Sequential([cl.Dense(2, 2, rng=np.random.default_rng(0))]), loss=cl.softmax_cross_entropy,
               lr=0.1, rng=np.random.default_rng(0), **args)  # fmt: skip


# --- mistakes caught at once: one layer twice, empty or scalar data, classes for instances --------


def test_the_same_layer_twice_is_a_value_error_naming_it_and_its_positions():
    """act used at positions 1 and 3 would backpropagate through position 1 with the input of
    position 3: rejected at construction, naming the layer, both positions and the cure."""
    act = cl.Tanh()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Tanh\(\) instance is at positions \[1, 3\].*two instances"):
        cl.Sequential([cl.Dense(3, 3, rng=rng), act, cl.Dense(3, 3, rng=rng), act])
    cl.Sequential([cl.Dense(3, 3, rng=rng), cl.Tanh(), cl.Dense(3, 3, rng=rng), cl.Tanh()])  # fine


def test_fit_with_no_examples_is_a_value_error():
    """fit with N = 0 trained nothing and returned an empty history: now a ValueError."""
    net = cl.Sequential([cl.Dense(2, 2, rng=0)])
    with pytest.raises(ValueError, match=r"X holds no examples \(N = 0\)"):
        cl.fit(net, np.zeros((0, 2)), np.zeros(0, int), loss=cl.softmax_cross_entropy, lr=0.1,
               epochs=1, batch_size=4, rng=0)  # fmt: skip


def test_fit_with_an_int_seed_is_reproducible():
    X, y = np.random.default_rng(0).standard_normal((10, 3)), np.arange(10) % 2
    runs = [
        cl.fit(cl.Sequential([cl.Dense(3, 2, rng=1)]), X, y, loss=cl.softmax_cross_entropy, lr=0.1,
               epochs=2, batch_size=3, rng=7)["loss"]
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]


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


def test_fit_with_a_scalar_x_is_a_value_error():
    net = cl.Sequential([cl.Dense(1, 1, rng=0)])
    with pytest.raises(
        ValueError, match=r"X and y must have a batch axis, shape \(N, \.\.\.\), got X.shape=\(\)"
    ):
        cl.fit(net, 3.0, [1.0], loss=cl.mse_loss, lr=0.1, epochs=1, batch_size=1, rng=0)
