"""Tests of cnnlib.course.ch09_the_modern_block: the stacks and their δ norms, the depth explorer,
the step-size bracket, the δ picture and the exercise checker (right answer against finite
differences; each usual wrong derivation named)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch09_the_modern_block as ch09


@pytest.mark.parametrize("kind", ch09.KINDS)
def test_build_stack_shapes_and_taps(kind):
    model, taps = ch09.build_stack(kind, 3, channels=4, rng=0, dtype=np.float64)
    assert len(taps) == 4 and taps[0] == 0
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 5))
    assert model.forward(x).shape == (2, 10)  # GAP: any input size
    assert model.forward(x[:, :, :4, :4]).shape == (2, 10)
    n_bn = sum(isinstance(layer, cl.BatchNorm2D) for _, layer in cl.nesting.named_layers(model))
    assert n_bn == (3 if kind.endswith("BN") else 0)
    n_res = sum(isinstance(layer, cl.Residual) for layer in model.layers)
    assert n_res == (3 if kind.startswith("residual") else 0)


def test_build_stack_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        ch09.build_stack("dense", 2)


def test_delta_norms_match_a_manual_backward():
    rng = np.random.default_rng(1)
    model, taps = ch09.build_stack("plain", 2, channels=3, rng=0, dtype=np.float64)
    X, y = rng.standard_normal((4, 1, 5, 5)), rng.integers(0, 10, 4)
    norms = ch09.delta_norms(model, taps, X, y)
    # by hand: δ at the last tapped layer's output is what GAP's backward returns
    out = model.forward(X)
    _, d = cl.softmax_cross_entropy(out, y)
    d_dense_in = model.layers[-1].backward(d)
    d_last_block = model.layers[-2].backward(d_dense_in)
    assert norms[-1] == pytest.approx(np.linalg.norm(d_last_block))
    assert norms.shape == (3,) and np.all(norms > 0)


def test_plain_stacks_lose_delta_and_residual_stacks_keep_it():
    # the notebook's claim, at initialisation, on random inputs (not the notebook's data)
    rng = np.random.default_rng(2)
    X, y = rng.uniform(0, 1, (16, 1, 8, 8)), rng.integers(0, 10, 16)
    ratio = {}
    for kind in ("plain", "residual"):
        model, taps = ch09.build_stack(kind, 8, rng=0, dtype=np.float64)
        norms = ch09.delta_norms(model, taps, X, y)
        ratio[kind] = norms[0] / norms[-1]
    assert ratio["plain"] < 1e-3
    assert 0.5 < ratio["residual"] < 10


def _fake_measured(depths=(2, 4)):
    return {
        (kind, d): {"init": np.geomspace(1e-4, 1, d + 1), "trained": np.geomspace(1e-2, 1, d + 1)}
        for kind in ch09.KINDS
        for d in depths
    }


def test_depth_explorer_updates_in_place_and_snaps_to_a_measured_depth():
    fig, update = ch09.depth_explorer(_fake_measured(), depth=2)
    lines = [ax.get_lines() for ax in fig.axes]
    drawn = update(depth=4)
    assert drawn["depth"] == 4
    assert drawn["ratio"]["plain"] == pytest.approx(1e-4)
    assert [ax.get_lines() for ax in fig.axes] == lines
    assert len(lines[0][0].get_xdata()) == 5
    assert update(depth=3)["depth"] in (2, 4)  # not measured: the nearest measured depth
    assert fig.get_size_inches()[0] * fig.dpi <= 1100
    plt.close(fig)


def test_stability_bracket_on_a_quadratic_bowl():
    # a Dense layer with mse: the loss is quadratic, its bound 2/λmax is known (notebook 06)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((32, 3))
    t = rng.standard_normal((32, 1))
    lam_max = np.linalg.eigvalsh(np.c_[X, np.ones(32)].T @ np.c_[X, np.ones(32)] / 32).max()

    def build():
        return cl.Sequential([cl.Dense(3, 1, rng=0)])

    grid = tuple(2.0 / lam_max * f for f in (0.25, 0.5, 0.9, 1.1, 2.0, 4.0))
    b = ch09.stability_bracket(build, X, t, grid, steps=300, blowup=3.0, loss=cl.mse_loss)
    assert b["stable"] == pytest.approx(grid[2]) and b["diverges"] == pytest.approx(grid[3])


def test_bn_delta_picture_rows_and_scales():
    rng = np.random.default_rng(4)
    d = np.zeros((3, 4, 4))
    d[0, 1, 1] = 1.0
    fig = ch09.bn_delta_picture(rng.standard_normal((3, 4, 4)), d)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 12  # 4 rows × 3 images
    for im in images[3:]:  # δ and ∂E/∂x: symmetric diverging scales
        lo, hi = im.get_clim()
        assert lo == pytest.approx(-hi)
    assert fig.get_size_inches()[0] * fig.dpi <= 1100
    plt.close(fig)


def test_layernorm_right_candidate_matches_finite_differences():
    for dy, x in ch09.layernorm_cases()[:2]:

        def forward(v):
            mu = v.mean(axis=(1, 2, 3), keepdims=True)
            return (v - mu) / np.sqrt(v.var(axis=(1, 2, 3), keepdims=True) + 1e-5)

        numeric = ch09.numerical_dx(dy, x, forward)
        assert cl.rel_error(ch09.layernorm_candidates(dy, x)["right"], numeric) < 1e-7


def test_layernorm_checker_names_each_wrong_derivation(capsys):
    assert not ch09.check_layernorm_backward(lambda dy, x: None)
    assert "not implemented yet" in capsys.readouterr().out
    assert ch09.check_layernorm_backward(lambda dy, x: ch09.layernorm_candidates(dy, x)["right"])
    assert "correct on all 4 cases" in capsys.readouterr().out
    wrong = [name for name in ch09.layernorm_candidates(*ch09.layernorm_cases()[0]) if name != "right"]
    for name in wrong:
        verdict = ch09.check_layernorm_backward(
            lambda dy, x, name=name: ch09.layernorm_candidates(dy, x)[name]
        )
        out = capsys.readouterr().out
        assert not verdict
        assert name in out, (name, out)
    # a wrong answer that is none of the named ones: the first wrong entry
    assert not ch09.check_layernorm_backward(lambda dy, x: 2 * ch09.layernorm_candidates(dy, x)["right"])
    assert "first wrong entry" in capsys.readouterr().out
    # an exception is printed with its case, never raised
    assert not ch09.check_layernorm_backward(lambda dy, x: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_bn_checker_accepts_the_reference_loops_and_names_the_planted_bugs(capsys):
    def reference_loops(dy, cache):
        # an independent right answer: the node-by-node loops, from the cache's statistics
        x = cache.x_hat / cache.inv_std[None, :, None, None] + cache.mean[None, :, None, None]
        zero = np.zeros_like(cache.gamma)
        _, ref_cache = cl.reference.batchnorm2d_forward(x, cache.gamma, zero, 1e-5)
        return cl.reference.batchnorm2d_backward(dy, ref_cache)

    assert ch09.check_bn_backward(reference_loops)
    assert "PASSED" in capsys.readouterr().out
    assert not ch09.check_bn_backward(lambda dy, cache: None)
    assert "not implemented yet" in capsys.readouterr().out

    def mystery(dy, cache):  # the notebook's exercise 2: three bugs
        axes = (0, 2, 3)
        x_hat, g = cache.x_hat, cache.gamma[None, :, None, None]
        dbeta = dy.sum(axis=0)
        dgamma = (g * dy * x_hat).sum(axis=axes)
        inv_std = cache.inv_std[None, :, None, None]
        dx = g * inv_std * (dy - x_hat * (dy * x_hat).mean(axis=axes, keepdims=True))
        return dx, dgamma, dbeta

    report = ch09.check_bn_backward(mystery)
    assert "Diagnosis" in capsys.readouterr().out
    assert not report
    assert set(report.bugs) == {"bn-sum-axes", "bn-mean-path", "bn-gamma"}
    # the notebook shows the planted code's verdicts only: the bugs are the learner's to find
    assert not ch09.check_bn_backward(mystery, diagnose=False)
    assert "Diagnosis" not in capsys.readouterr().out


@pytest.mark.parametrize("name", list(ch09.FIGURES))
def test_every_registered_figure_draws_within_the_column(name):
    fig = ch09.FIGURES[name]()
    assert fig.get_size_inches()[0] * fig.dpi <= 1100
    assert fig.axes[0].get_title() or fig._suptitle is not None
    plt.close(fig)
