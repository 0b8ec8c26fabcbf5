"""How each course's code is called: argument order, layout, hyper-parameter dicts, caches.

Three conventions, each matching its course's published function signatures:

- ``"cnnlib"``: this course. NCHW; x (N, C, H, W), w (D, C, kh, kw), b (D,); stride and
  padding an int or an (h, w) pair. ``fn(dy, x, w, stride, padding) -> (dx, dw, db)``,
  ``fn(x, w, b, stride, padding) -> y``, pool ``fn(dy, x, size, stride) -> dx``.
- ``"cs231n"``: Stanford CS231n assignment 2. NCHW, kernel (F, C, HH, WW);
  ``conv_forward_naive(x, w, b, conv_param) -> (out, cache)`` with
  ``conv_param = {"stride": int, "pad": int}``, ``conv_backward_naive(dout, cache)``,
  ``max_pool_forward_naive(x, pool_param) -> (out, cache)`` with
  ``pool_param = {"pool_height", "pool_width", "stride"}``, ``max_pool_backward_naive(dout, cache)``.
  No average pooling. Documented caches: (x, w, b, conv_param) and (x, pool_param).
- ``"coursera"``: deeplearning.ai "Convolution model, Step by Step". NHWC;
  A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C);
  ``conv_forward(A_prev, W, b, hparameters={"stride", "pad"}) -> (Z, cache)``,
  ``conv_backward(dZ, cache) -> (dA_prev, dW, db)``,
  ``pool_forward(A_prev, hparameters={"f", "stride"}, mode) -> (A, cache)``,
  ``pool_backward(dA, cache, mode) -> dA_prev``. Documented caches: (A_prev, W, b,
  hparameters) and (A_prev, hparameters).

Internally every array is NCHW (the course's layout); a convention converts on the way
in and out, and names arrays the way its course does in every message.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Convention",
    "CONVENTIONS",
    "get_convention",
    "LearnerRaised",
    "BadOutput",
    "OPERATIONS",
    "exception_text",
    "TimeUp",
]

OPERATIONS = ("conv_forward", "conv_backward", "maxpool_backward", "avgpool_backward")

# what each operation returns, in the course's names
OUTPUTS = {
    "conv_forward": ("y",),
    "conv_backward": ("dx", "dw", "db"),
    "maxpool_backward": ("dx",),
    "avgpool_backward": ("dx",),
}


def exception_text(exc):
    """str(exc), or a stand-in when the learner's exception cannot print itself."""
    try:
        text = str(exc)
    except BaseException as err:  # a learner's __str__ that raises must not stop the check
        return f"<its message could not be printed: str() raised {type(err).__name__}>"
    if not isinstance(text, str):
        return repr(text)
    return text or "(no message)"


class LearnerRaised(Exception):
    """The learner's function (forward or backward) raised; carries which and the exception."""

    def __init__(self, stage, exc):
        super().__init__(f"{stage} raised {type(exc).__name__}: {exception_text(exc)}")
        self.stage, self.exc = stage, exc


class TimeUp(BaseException):
    """The check's time limit ran out while a learner's function ran (a BaseException, so that
    the learner's ``except Exception`` does not swallow it)."""


class BadOutput(Exception):
    """The learner's function returned something that is not what the convention promises."""


def _unpair(pair):
    """An (h, w) pair as an int when both are equal: what most learner code expects."""
    return pair[0] if pair[0] == pair[1] else tuple(pair)


def _call(stage, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, TimeUp):  # the user's interrupt and the time limit stop the check
        raise
    except BaseException as exc:  # any learner error (GeneratorExit, SystemExit too) is reported
        raise LearnerRaised(stage, exc) from exc


def _first_of_pair(result, what):
    """``(out, cache)`` -> out; a bare array is accepted too (a forward without cache)."""
    if isinstance(result, tuple) and len(result) == 2:
        return result
    if isinstance(result, np.ndarray):
        return result, None
    raise BadOutput(f"{what} returned {type(result).__name__}, expected a tuple (out, cache)")


class Convention:
    """One course's calling convention.

    Attributes
    ----------
    name : str
    operations : tuple of str
        The operations the course defines.
    labels : dict
        Internal name -> the course's name ("dx" -> "dA_prev").
    """

    name = ""
    operations = OPERATIONS
    labels: dict = {}
    perms: dict = {}  # internal name -> axes permutation from NCHW to this layout
    signatures: dict = {}

    def label(self, key):
        return self.labels.get(key, key)

    def unsupported(self, op, case):
        """None when this convention can express the case, else the reason as a sentence."""
        return None

    # layout -----------------------------------------------------------------------------------
    def to_layout(self, key, a):
        """An internal NCHW array (or shape) in this convention's layout."""
        perm = self.perms.get(key[1:] if key.startswith("d") and key != "dy" else key)
        if isinstance(a, tuple):
            return a if perm is None else tuple(a[i] for i in perm)
        return a if perm is None else np.transpose(a, perm)

    def from_layout(self, key, a):
        perm = self.perms.get(key[1:] if key.startswith("d") and key != "dy" else key)
        return a if perm is None else np.transpose(a, np.argsort(perm))

    # calling ----------------------------------------------------------------------------------
    def call(self, op, fn, forward, a, case):
        """Run the learner's function on one case.

        Parameters
        ----------
        op : str
        fn, forward : callable, callable or None
        a : dict of ndarray
            The case's arrays, NCHW (copies: the learner may modify them).
        case : ConvCase or PoolCase

        Returns
        -------
        tuple
            The raw outputs, in this convention's layout, in the order of ``OUTPUTS[op]``.

        Raises
        ------
        LearnerRaised, BadOutput
        """
        raise NotImplementedError


class CnnlibConvention(Convention):
    name = "cnnlib"
    signatures = {
        "conv_forward": "fn(x, w, b, stride, padding) -> y",
        "conv_backward": "fn(dy, x, w, stride, padding) -> (dx, dw, db)",
        "maxpool_backward": "fn(dy, x, size, stride) -> dx",
        "avgpool_backward": "fn(dy, x, size, stride) -> dx",
    }

    def call(self, op, fn, forward, a, case):
        if op == "conv_forward":
            return (_call("your forward", fn, a["x"], a["w"], a["b"], *self._sp(case), **self._family(case)),)
        if op == "conv_backward":
            return _call("your backward", fn, a["dy"], a["x"], a["w"], *self._sp(case), **self._family(case))
        return (_call("your backward", fn, a["dy"], a["x"], _unpair(case.size), _unpair(case.stride)),)

    @staticmethod
    def _sp(case):
        return _unpair(case.stride), _unpair(case.padding)

    @staticmethod
    def _family(case):
        """dilation= and groups= keywords, each only where the case sets it (a plain fn takes neither)."""
        kw = {"dilation": _unpair(case.dilation)} if case.dilation != (1, 1) else {}
        return kw | ({"groups": case.groups} if case.groups != 1 else {})


class CS231nConvention(Convention):
    name = "cs231n"
    operations = ("conv_forward", "conv_backward", "maxpool_backward")
    labels = {"y": "out", "dy": "dout"}
    signatures = {
        "conv_forward": "conv_forward_naive(x, w, b, conv_param) -> (out, cache)",
        "conv_backward": "conv_backward_naive(dout, cache) -> (dx, dw, db)",
        "maxpool_backward": "max_pool_backward_naive(dout, cache) -> dx",
    }

    def unsupported(self, op, case):
        if case.stride[0] != case.stride[1]:
            return f"CS231n takes one int stride for both axes; this case has stride {case.stride}"
        if op.startswith("conv") and case.padding[0] != case.padding[1]:
            return f"CS231n takes one int pad for both axes; this case has padding {case.padding}"
        return None

    def call(self, op, fn, forward, a, case):
        if op.startswith("conv"):
            param = {"stride": case.stride[0], "pad": case.padding[0]}
            if op == "conv_forward":
                return (_first_of_pair(_call("your forward", fn, a["x"], a["w"], a["b"], param), "fn")[0],)
            if forward is None:
                cache = (a["x"], a["w"], a["b"], param)
            else:
                cache = _first_of_pair(
                    _call("your forward", forward, a["x"], a["w"], a["b"], param), "forward"
                )[1]
            return _call("your backward", fn, a["dy"], cache)
        kh, kw = case.size
        param = {"pool_height": kh, "pool_width": kw, "stride": case.stride[0]}
        if forward is None:
            cache = (a["x"], param)
        else:
            cache = _first_of_pair(_call("your forward", forward, a["x"], param), "forward")[1]
        return (_call("your backward", fn, a["dy"], cache),)


class CourseraConvention(Convention):
    name = "coursera"
    labels = {"x": "A_prev", "dx": "dA_prev", "w": "W", "dw": "dW", "y": "Z", "dy": "dZ"}
    # NHWC activations, (f, f, n_C_prev, n_C) kernels, (1, 1, 1, n_C) bias
    perms = {"x": (0, 2, 3, 1), "y": (0, 2, 3, 1), "dy": (0, 2, 3, 1), "w": (2, 3, 1, 0)}
    signatures = {
        "conv_forward": "conv_forward(A_prev, W, b, hparameters) -> (Z, cache)",
        "conv_backward": "conv_backward(dZ, cache) -> (dA_prev, dW, db)",
        "maxpool_backward": 'pool_backward(dA, cache, mode="max") -> dA_prev',
        "avgpool_backward": 'pool_backward(dA, cache, mode="average") -> dA_prev',
    }

    def label(self, key):
        if key == "dy" and self._pool:
            return "dA"
        return super().label(key)

    _pool = False

    def unsupported(self, op, case):
        if op.startswith("conv"):
            if case.kh != case.kw:
                return f"deeplearning.ai kernels are f x f; this case has a {case.kh}x{case.kw} kernel"
            if case.padding[0] != case.padding[1]:
                return f"deeplearning.ai takes one int pad; this case has padding {case.padding}"
        elif case.size[0] != case.size[1]:
            return f"deeplearning.ai pool windows are f x f; this case has a {case.size} window"
        if case.stride[0] != case.stride[1]:
            return f"deeplearning.ai takes one int stride; this case has stride {case.stride}"
        return None

    def to_layout(self, key, a):
        if key in ("b", "db"):
            return (
                a
                if isinstance(a, tuple) and len(a) == 4
                else ((1, 1, 1) + tuple(a) if isinstance(a, tuple) else np.reshape(a, (1, 1, 1, -1)))
            )
        return super().to_layout(key, a)

    def from_layout(self, key, a):
        if key in ("b", "db"):
            return np.reshape(a, -1)
        return super().from_layout(key, a)

    def call(self, op, fn, forward, a, case):
        nhwc = {k: self.to_layout(k, v) for k, v in a.items()}
        if op.startswith("conv"):
            hp = {"stride": case.stride[0], "pad": case.padding[0]}
            args = (nhwc["x"], nhwc["w"], nhwc["b"], hp)
            if op == "conv_forward":
                return (_first_of_pair(_call("your conv_forward", fn, *args), "conv_forward")[0],)
            if forward is None:
                cache = args
            else:
                cache = _first_of_pair(_call("your conv_forward", forward, *args), "conv_forward")[1]
            return _call("your conv_backward", fn, nhwc["dy"], cache)
        mode = "max" if op == "maxpool_backward" else "average"
        hp = {"f": case.size[0], "stride": case.stride[0]}
        if forward is None:
            cache = (nhwc["x"], hp)
        else:
            cache = _first_of_pair(_call("your pool_forward", forward, nhwc["x"], hp, mode), "pool_forward")[
                1
            ]
        return (_call("your pool_backward", fn, nhwc["dy"], cache, mode),)


class _PoolCoursera(CourseraConvention):
    _pool = True


CONVENTIONS = {c.name: c for c in (CnnlibConvention(), CS231nConvention(), CourseraConvention())}


def get_convention(name, op):
    """The convention called ``name``, checked to define ``op``.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        Unknown convention, or one without this operation (CS231n has no average pooling).
    """
    if not isinstance(name, str):
        raise TypeError(f"convention must be a string, one of {sorted(CONVENTIONS)}; got {name!r}")
    if name not in CONVENTIONS:
        raise ValueError(f"unknown convention {name!r}: expected one of {sorted(CONVENTIONS)}")
    conv = CONVENTIONS[name]
    if op not in conv.operations:
        raise ValueError(
            f"the {name!r} convention has no {op.replace('_', ' ')} (it defines {', '.join(conv.operations)})"
        )
    if name == "coursera" and op.startswith(("maxpool", "avgpool")):
        return _PoolCoursera()
    return conv
