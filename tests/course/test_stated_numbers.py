"""Numbers the notebooks' text states, recomputed: a sentence may restate a number only if this
table recomputes it (or if it points to the printed line instead).

Each row is (notebook, the sentence as it stands, with its numbers written as format fields, and
the values). The test formats the values into the sentence and finds it in the notebook's
Markdown (whitespace and line breaks ignored), so a change of either the text or the computation
fails here. Every value must also be far from its rounding boundary (``stated``), so that another
CPU's last bits cannot print it differently.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import cnnlib as cl
from cnnlib import reference

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def stated(value, spec, margin=1e-6):
    """``format(value, spec)``, refused when value·(1 ± margin) would round differently."""
    text = format(value, spec)
    for nudged in (value * (1 - margin), value * (1 + margin)):
        if format(nudged, spec) != text:
            raise AssertionError(
                f"{value!r} is within {margin:g} (relative) of a rounding boundary of {spec!r}"
            )
    return text


def markdown(notebook):
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return " ".join(text.split())


def _digits_run(seed):
    """Notebook 05's training (§9): the question's net in float32, lr 0.1 for 5 epochs, then 0.01 for 1."""
    X, y = cl.data.load_digits28("train")
    X_test, y_test = cl.data.load_digits28("test")
    X32, X_test32 = X.astype(np.float32), X_test.astype(np.float32)
    rng = np.random.default_rng(seed)
    model = cl.Sequential(
        [
            cl.Conv2D(1, 3, 5, rng=rng, dtype=np.float32),
            cl.ReLU(),
            cl.MaxPool2D(2),
            cl.Flatten(),
            cl.Dense(432, 10, rng=rng, dtype=np.float32),
        ]
    )
    history = [
        cl.fit(
            model,
            X32,
            y,
            loss=cl.softmax_cross_entropy,
            lr=lr,
            epochs=epochs,
            batch_size=32,
            rng=rng,
            val=(X_test32, y_test),
        )
        for lr, epochs in ((0.1, 5), (0.01, 1))
    ]
    return {
        key: [v for phase in history for v in phase[key]] for key in ("train_loss", "val_loss", "val_acc")
    }


def rows_05():
    run = _digits_run(seed=2)
    m = 1e-4  # float32 training: a wider margin than one sum's rounding
    return [
        (
            "05_pooling_and_a_full_cnn.ipynb",
            "the training loss goes from {} in epoch 1 to {}, the test loss from {} to {}, "
            "and the test accuracy is {}% after one epoch and {}% at the end",
            [
                stated(run["train_loss"][0], ".1f", m),
                stated(run["train_loss"][-1], ".2f", m),
                stated(run["val_loss"][0], ".2f", m),
                stated(run["val_loss"][-1], ".2f", m),
                stated(100 * run["val_acc"][0], ".0f", m),
                stated(100 * run["val_acc"][-1], ".0f", m),
            ],
        ),
        ("05_pooling_and_a_full_cnn.ipynb", "once λ exceeds $2/\\eta$ (here {})", [stated(2 / 0.1, ".0f")]),
    ]


def rows_06():
    lam, c0 = np.array([12.0, 2.0]), np.array([-1.0, -3.0]) / np.sqrt(5)
    E17 = cl.curvature.gd_direction_losses(lam, c0, 0.17, steps=4).sum(axis=1)
    falls = int(np.argmax(np.diff(E17) > 0))  # steps before the first rise
    words = {3: "three"}
    return [
        (
            "06_debugging_backprop.ipynb",
            "So $\\eta_{{\\max}}=2/12=1/6\\approx{}$.",
            [stated(2 / lam.max(), ".4f")],
        ),
        (
            "06_debugging_backprop.ipynb",
            "so $E_k=1.2\\cdot1.0816^k+1.8\\cdot0.4356^k = {},\\ {},\\ {},\\ {},\\ {},\\dots$: "
            "**{} steps down, then up forever**",
            [stated(E17[0], ".0f")] + [stated(e, ".3f") for e in E17[1:]] + [words[falls]],
        ),
        (
            "06_debugging_backprop.ipynb",
            "with step size 0.17 the loss falls for {} steps, then rises forever",
            [words[falls]],
        ),
    ]


def rows_07():
    Ho, s, k = 4, 2, 3
    spread = cl.pad(cl.dilate(np.ones((Ho, Ho)), s), k - 1)  # the array the rot180 route correlates
    useful = reference.correlate2d(spread, np.ones((k, k)))  # products that meet a delta entry, per pixel
    Wp, Wo = 32 + 2, 32
    return [
        (
            "07_fast_convolution.ipynb",
            "the grey zeros outnumber the {} $\\delta$ entries more than six to one ({} of {} entries), "
            "a pixel of $\\partial E/\\partial x_p$ meets a $\\delta$ in only {} of its 9 products "
            "({} on average)",
            [
                str(Ho * Ho),
                str(int((spread == 0).sum())),
                str(spread.size),
                ", ".join(str(int(v)) for v in sorted(set(useful.ravel()))[:-1]) + f" or {int(useful.max())}",
                stated(useful.mean(), ".1f"),
            ],
        ),
        (
            "07_fast_convolution.ipynb",
            "more columns than outputs, {} % for a $32\\times32$ image with $k=3$, $p=1$. "
            "`cnnlib.conv` often computes a few rows below each image too (below): then {} % in all.",
            [stated(100 * (Wp / Wo - 1), ".0f"), stated(100 * (Wp * Wp / (Wo * Wo) - 1), ".0f")],
        ),
    ]


def rows_08():
    N, C, D, H, k, s, p, dil = 3, 2, 4, 13, 3, 2, 1, 3  # section 4's example
    Ho = cl.conv_output_size(H, k, s, p, dil)
    g = cl.conv2d_forward(
        np.zeros((C, N, H, H)), np.zeros((D, N, Ho, Ho)), None, stride=dil, padding=p, dilation=s
    )
    taps = np.convolve(np.convolve([1, 1, 1], [1, 1, 1]), [1, 1, 1])
    return [
        (
            "08_convolution_family.ipynb",
            "Here the forward of the duality has exactly $k = {}$ rows (the printed shape is $C$, $D$, then "
            "3×3): the $H + 2p = {}$ padded rows are all used by a 3-tap kernel with dilation 3 and stride 2 "
            "over $H_o = {}$ outputs, $(H_o - 1)s + d(k - 1) + 1 = {} + {} + 1 = {}$.",
            [g.shape[2], H + 2 * p, Ho, (Ho - 1) * s, dil * (k - 1), (Ho - 1) * s + dil * (k - 1) + 1],
        ),
        (
            "08_convolution_family.ipynb",
            "which $7 \\times 7 = {}$ paths reach (three copies of $[1, 1, 1]$, one per layer, convolved "
            "together give ${}$ per axis)",
            [int(taps.max()) ** 2, str(taps.tolist())],
        ),
        ("08_convolution_family.ipynb", "$1/D + 1/k^2 \\approx {}$", [stated(1 / 64 + 1 / 3**2, ".3f")]),
    ]


ROWS = {"05": rows_05, "06": rows_06, "07": rows_07, "08": rows_08}


@pytest.mark.parametrize("chapter", sorted(ROWS))
def test_the_text_states_what_the_code_computes(chapter):
    for notebook, sentence, values in ROWS[chapter]():
        expected = " ".join(sentence.format(*values).split())
        assert expected in markdown(notebook), f"{notebook} no longer says: {expected}"


def test_stated_refuses_a_value_at_a_rounding_boundary():
    assert stated(0.1266, ".3f") == "0.127"
    with pytest.raises(AssertionError, match="rounding boundary"):
        stated(0.12650000001, ".3f")


def test_sentences_with_numbers_are_found_whitespace_blind():
    assert re.search(r"\s{2,}", markdown("08_convolution_family.ipynb")) is None
