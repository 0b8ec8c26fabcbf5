"""Layers that hold layers: one rule and one walker.

A layer that holds layers (``Sequential``, ``Residual``) says so through
``sublayers()``, a list of (name, layer) pairs; a plain layer holds none.
``named_layers`` walks that tree, and everything that must reach nested layers uses
it and nothing else: ``SGD`` (every parameter), ``fit``, ``gradcheck_layer`` (keys
such as "1.0.gamma": the path of names, then the parameter) and ``train``/``eval``.

``Nesting``, which every ``cnnlib.Layer`` inherits, gives the default (no sublayers)
and ``train()``/``eval()``.

A layer remembers one forward, so one instance may sit at one place of a model only,
however deep: ``validate_sublayers`` says so at construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


class Nesting:
    """What every layer has for nesting (``cnnlib.Layer`` inherits it): its sublayers and its mode.

    ``training`` is True from construction; ``train()``/``eval()`` set it on this layer and
    every layer nested in it (batch norm in eval mode uses its running statistics).
    """

    training: bool = True

    def sublayers(self) -> list[tuple[str, Any]]:
        """The (name, layer) pairs this layer holds: none for a plain layer."""
        return []

    def train(self, mode: bool = True) -> Any:
        """Training mode (eval mode for mode=False) here and in every nested layer; returns self."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for _, layer in named_layers(self):
            layer.training = bool(mode)
        return self

    def eval(self) -> Any:
        """Eval mode here and in every nested layer; returns self."""
        return self.train(False)


def named_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (path, layer) for ``model`` itself (path ``prefix``) and every layer nested in it.

    Depth first, in the order of each ``sublayers()``; paths join names with dots ("1.0").
    Objects without ``sublayers`` (e.g. a duck-typed layer) and classes hold nothing.
    """
    yield prefix, model
    # a class (a layer given unbuilt) holds nothing: its callers report it
    sublayers = None if isinstance(model, type) else getattr(model, "sublayers", None)
    for name, layer in sublayers() if callable(sublayers) else []:
        yield from named_layers(layer, f"{prefix}.{name}" if prefix else name)


def validate_sublayers(named: list[tuple[str, Any]]) -> None:
    """Check the (name, layer) pairs a container is built from.

    A class instead of an instance, or an object without forward and backward, is a
    TypeError; one instance at two places of the tree (at any depth) is a ValueError.
    """
    for name, layer in named:
        if isinstance(layer, type):
            raise TypeError(
                f"layer {name} is the class {layer.__name__}, not a layer: write {layer.__name__}(...)"
            )
        if not hasattr(layer, "forward") or not hasattr(layer, "backward"):
            raise TypeError(
                f"layer {name} must have forward and backward methods, got {type(layer).__name__}"
            )
    places: dict[int, tuple[Any, list[str]]] = {}
    for name, layer in named:
        for path, inner in named_layers(layer, name):
            places.setdefault(id(inner), (inner, []))[1].append(path)
    for inner, where in places.values():
        if len(where) > 1:
            # a layer remembers only its last forward input: the backward through its
            # earlier place would use the later one's and give a wrong gradient
            raise ValueError(
                f"the same {inner!r} instance is at positions [{', '.join(where)}]: a layer keeps "
                "one forward input, so each position needs its own instance (use two instances, "
                "e.g. Tanh() and Tanh())"
            )
