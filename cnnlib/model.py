"""A stack of layers, plain SGD and a training loop that returns the loss history.

Derived in notebooks/05_pooling_and_a_full_cnn.ipynb.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike

from .layers import Layer
from .nesting import named_layers, validate_sublayers
from .shapes import RngLike, as_float_array, as_rng


class Sequential(Layer):
    """Layers applied in order; backward runs them in reverse (the chain rule).

    Parameters
    ----------
    layers : list of Layer
        Each instance at most once, also inside nested blocks (a layer remembers one
        forward); classes instead of instances are a TypeError.
    """

    def __init__(self, layers: Iterable[Layer]) -> None:
        super().__init__()
        layers = list(layers)
        validate_sublayers([(str(i), layer) for i, layer in enumerate(layers)])
        self.layers = layers

    def sublayers(self) -> list[tuple[str, Layer]]:
        """Each layer named by its position: "0", "1", ..."""
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: ArrayLike) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return np.asarray(x)  # x itself for an empty Sequential

    def backward(self, dy: ArrayLike) -> np.ndarray:
        """Propagate δ from the output back to the input; returns ∂E/∂x of the first layer."""
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return np.asarray(dy)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n])"


class SGD:
    """Plain stochastic gradient descent: p ← p − lr · ∂E/∂p for every parameter.

    Parameters
    ----------
    model : Sequential or Layer
    lr : float
        Learning rate (step size) > 0.
    """

    def __init__(self, model: Sequential | Layer, lr: float) -> None:
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        layers: list[Layer] = [layer for _, layer in named_layers(model)]
        for layer in layers:
            if not (isinstance(getattr(layer, "params", None), dict) and hasattr(layer, "grads")):
                what = f"the class {layer.__name__}" if isinstance(layer, type) else repr(layer)
                raise TypeError(
                    f"SGD needs a Sequential or a Layer (with params and grads), got {what} "
                    f"(type {type(layer).__name__})"
                )
        self.layers: list[Layer] = layers  # every layer of the model, nested ones included
        self.lr: float = lr

    def step(self) -> None:
        for layer in self.layers:
            for key, p in layer.params.items():
                if key not in layer.grads:
                    raise RuntimeError(f"{layer!r} has no gradient for {key!r}: call backward first")
                p -= self.lr * layer.grads[key]  # in place: the layer keeps the same array


def _batches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def fit(
    model: Sequential,
    X: ArrayLike,
    y: ArrayLike,
    *,
    loss: Callable[[np.ndarray, ArrayLike], tuple[float, np.ndarray]],
    lr: float,
    epochs: int,
    batch_size: int,
    rng: RngLike,
    val: tuple[ArrayLike, ArrayLike] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` with minibatch SGD and return its history.

    Parameters
    ----------
    model : Sequential
    X : array-like of shape (N, ...)
    y : array-like of shape (N, ...)
        Integer labels (N,) for softmax_cross_entropy, targets for mse_loss.
    loss : callable
        loss(prediction, y_batch) -> (E, ∂E/∂prediction), e.g. cnnlib.softmax_cross_entropy.
    lr : float
    epochs, batch_size : int
    rng : numpy.random.Generator, int seed or None
        Shuffles the examples each epoch.
    val : (X_val, y_val) or None

    Returns
    -------
    dict
        "loss": the training loss of every step (list of float); once per epoch,
        "train_loss" (the mean of that epoch's step losses) and, for integer labels,
        "train_acc" (the fraction of the epoch's examples whose argmax prediction was
        right when their batch was seen); with ``val``, "val_loss" and "val_acc"
        (integer labels only) on (X_val, y_val) after each epoch.
    """
    X = as_float_array(X, "X")
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"X and y must have a batch axis, shape (N, ...), got X.shape={X.shape}, y.shape={y.shape}"
        )
    if len(X) != len(y):
        raise ValueError(f"X and y must hold the same number of examples, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("X holds no examples (N = 0): there is nothing to train on")
    rng = as_rng(rng)
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    opt = SGD(model, lr)
    classes = y.ndim == 1 and np.issubdtype(y.dtype, np.integer)
    history: dict[str, list[float]] = {"loss": [], "train_loss": []}
    if classes:
        history["train_acc"] = []
    if val is not None:
        history["val_loss"], history["val_acc"] = [], []
    for _ in range(epochs):
        first, right = len(history["loss"]), 0
        for idx in _batches(len(X), batch_size, rng):
            out = model.forward(X[idx])
            E, dout = loss(out, y[idx])
            model.backward(dout)
            opt.step()
            history["loss"].append(E)
            if classes:  # the predictions the step was taken on: no extra forward pass
                right += int(np.sum(out.argmax(axis=1) == y[idx]))
        history["train_loss"].append(float(np.mean(history["loss"][first:])))
        if classes:
            history["train_acc"].append(right / len(X))
        if val is not None:
            modes = [(layer, getattr(layer, "training", True)) for _, layer in named_layers(model)]
            for layer, _ in modes:  # eval mode: batch norm uses its running statistics, as at test time
                layer.training = False
            try:
                out = model.forward(as_float_array(val[0], "X_val"))
            finally:
                for layer, mode in modes:  # each layer's own mode back, as it was
                    layer.training = mode
            history["val_loss"].append(loss(out, val[1])[0])
            labels = np.asarray(val[1])
            if labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer):
                history["val_acc"].append(float(np.mean(out.argmax(axis=1) == labels)))
    return history


__all__ = ["Sequential", "SGD", "fit", "Layer"]


def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int = 10) -> np.ndarray:
    """Confusion matrix: counts[t, p] = how many examples of class t were predicted p.

    Parameters
    ----------
    y_true, y_pred : array-like of int of shape (N,)
    n_classes : int

    Returns
    -------
    ndarray of int of shape (n_classes, n_classes)
        Rows are true classes, columns predicted ones; the diagonal is the correct ones.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one shape, got {y_true.shape}, {y_pred.shape}")
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts
