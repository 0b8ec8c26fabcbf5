"""Tests of cnnlib.course.ch09_the_modern_block: the stacks and their δ norms, the depth explorer,
the step-size bracket, the δ picture and the exercise checkers (right answers against finite
differences and other routes; each usual wrong derivation and each planted bug named)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import cnnlib as cl
from cnnlib.course import ch09_exercises
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


def test_example_norm_right_answer_matches_finite_differences():
    for dy, x, gamma in ch09.example_norm_cases():
        dx, dgamma = ch09_exercises.example_norm_backward(dy, x, gamma)  # the checker's oracle
        numeric_dx = ch09.numerical_dx(dy, x, lambda v, g=gamma: ch09.example_norm_forward(v, g))
        numeric_dgamma = cl.numerical_gradient(
            lambda g, x=x, dy=dy: np.sum(ch09.example_norm_forward(x, g) * dy), gamma
        )
        assert cl.rel_error(dx, numeric_dx) < 1e-7
        assert cl.rel_error(dgamma, numeric_dgamma) < 1e-7


def _example_norm_by_nodes(dy, x, gamma):
    """A right answer that is not the checker's formula: node by node through x̂, σ², μ (per example)."""
    axes, M = (1, 2, 3), x[0].size
    mu = x.mean(axis=axes, keepdims=True)
    x_mu = x - mu
    var = (x_mu**2).sum(axis=axes, keepdims=True) / M
    inv_std = 1 / np.sqrt(var + 1e-5)
    x_hat = x_mu * inv_std
    dx_hat = dy * gamma[None, :, None, None]
    dvar = (dx_hat * x_mu).sum(axis=axes, keepdims=True) * -0.5 * inv_std**3
    dmu = -(dx_hat * inv_std).sum(axis=axes, keepdims=True) + dvar * (-2 * x_mu).mean(
        axis=axes, keepdims=True
    )
    dx = dx_hat * inv_std + dvar * 2 * x_mu / M + dmu / M
    return dx, np.einsum("nchw,nchw->c", dy, x_hat)


def _batchnorm_as_is(dy, x, gamma):  # the notebook's typical first attempt
    _, cache = cl.batchnorm2d_forward(x, gamma, np.zeros_like(gamma))
    return cl.batchnorm2d_backward(dy, cache)[:2]


def _copied_formula(dy, x, gamma, mean_path=True, var_path=True):
    """Section 2's formula with only the axes changed: γ/σ in front (the reader's attempt)."""
    axes = (1, 2, 3)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    sigma = np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    g = gamma[None, :, None, None]
    dx = g / sigma * (dy - mean_path * dy.mean(axis=axes, keepdims=True)
                      - var_path * x_hat * (dy * x_hat).mean(axis=axes, keepdims=True))  # fmt: skip
    return dx, (dy * x_hat).sum(axis=(0, 2, 3))


def _example_norm_variant(**kwargs):
    """The right node-by-node answer with one of its outputs replaced by a learner's slip."""

    def fn(dy, x, gamma):
        dx, dgamma = _example_norm_by_nodes(dy, x, gamma)
        axes = (1, 2, 3)
        x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        sigma = np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
        d = dy * gamma[None, :, None, None]
        if kwargs.get("no_mean"):
            dx = (d - x_hat * (d * x_hat).mean(axis=axes, keepdims=True)) / sigma
        if kwargs.get("no_var"):
            dx = (d - d.mean(axis=axes, keepdims=True)) / sigma
        if kwargs.get("no_gamma"):
            dx = (
                dy - dy.mean(axis=axes, keepdims=True) - x_hat * (dy * x_hat).mean(axis=axes, keepdims=True)
            ) / sigma
        if kwargs.get("unbiased"):
            s1 = np.sqrt(x.var(axis=axes, keepdims=True, ddof=1) + 1e-5)
            h1 = (x - x.mean(axis=axes, keepdims=True)) / s1
            dx = (d - d.mean(axis=axes, keepdims=True) - h1 * (d * h1).mean(axis=axes, keepdims=True)) / s1
        if kwargs.get("dgamma_over_stats"):
            dgamma = (dy * x_hat).sum(axis=axes)
        if kwargs.get("dgamma_times_gamma"):
            dgamma = (d * x_hat).sum(axis=(0, 2, 3))
        return dx, dgamma

    return fn


EXAMPLE_NORM_SLIPS = [
    (_batchnorm_as_is, ("bn-axes",)),
    (_copied_formula, ("gamma-outside",)),
    (lambda dy, x, g: _copied_formula(dy, x, g, mean_path=False), ("gamma-outside", "bn-mean-path")),
    (_example_norm_variant(no_mean=True), ("bn-mean-path",)),
    (_example_norm_variant(no_var=True), ("bn-var-path",)),
    (_example_norm_variant(no_gamma=True), ("bn-gamma",)),
    (_example_norm_variant(unbiased=True), ("bn-unbiased",)),
    (_example_norm_variant(dgamma_over_stats=True), ("bn-sum-axes",)),
    (_example_norm_variant(dgamma_times_gamma=True), ("bn-gamma",)),
    (_example_norm_variant(no_var=True, dgamma_over_stats=True), ("bn-var-path", "bn-sum-axes")),
]


def test_example_norm_checker_accepts_a_node_by_node_answer(capsys):
    assert not ch09.check_example_norm_backward(lambda dy, x, gamma: None)
    assert "not implemented yet" in capsys.readouterr().out
    verdict = ch09.check_example_norm_backward(_example_norm_by_nodes)
    assert verdict and verdict.bugs == ()
    assert "correct on all 4 cases" in capsys.readouterr().out


@pytest.mark.parametrize(("fn", "bugs"), EXAMPLE_NORM_SLIPS)
def test_example_norm_checker_names_each_usual_slip(fn, bugs, capsys):
    verdict = ch09.check_example_norm_backward(fn)
    out = capsys.readouterr().out
    assert not verdict
    assert verdict.bugs == bugs, out
    assert set(bugs) <= set(cl.check.BUG_IDS) | {"gamma-outside"}


def test_copied_formula_passes_only_where_gamma_is_one_number_per_group(capsys):
    ch09.check_example_norm_backward(_copied_formula)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  case")]
    assert [("pass" in line) for line in lines] == [False, False, False, True]  # case 4: one channel


def test_example_norm_checker_prints_errors_and_unknown_answers(capsys):
    assert not ch09.check_example_norm_backward(lambda dy, x, gamma: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    verdict = ch09.check_example_norm_backward(
        lambda dy, x, g: tuple(a[::-1] for a in _example_norm_by_nodes(dy, x, g))
    )
    assert not verdict and verdict.bugs == ()
    assert "first wrong entry" in capsys.readouterr().out


def _bn_by_nodes(dy, cache, count="NHW", mean_path=True, gamma="right", dgamma_from_dx_hat=False):
    """Exercise 2 node by node (x → μ → σ² → x̂ → y), with the planted bugs and the usual slips as switches.

    gamma: "right" (∂E/∂x̂ = γ δ feeds all three terms), "direct" (γ on the direct term only: planted),
    "outside" (the planted dx, γ already on its direct term, multiplied by γ as a whole).
    """
    x, eps = cache.x, cache.eps
    g, mu, var = (a[None, :, None, None] for a in (cache.gamma, cache.mean, cache.var))
    N, _, H, W = x.shape
    M = {"NHW": N * H * W, "N": N, "size": x.size}[count]
    x_mu = x - mu
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = x_mu * inv_std
    dx_hat = dy * g if gamma == "right" else dy  # what the paths through μ and σ² receive
    dgamma = np.einsum("nchw,nchw->c", dy * g if dgamma_from_dx_hat else dy, x_hat)
    dvar = np.einsum("nchw,nchw->c", dx_hat, x_mu)[None, :, None, None] * -0.5 * inv_std**3
    dmu = mean_path * -np.einsum("nchw->c", dx_hat * inv_std)[None, :, None, None]
    dx = dy * g * inv_std + dvar * 2 * x_mu / M + dmu / M
    if gamma == "outside":
        dx = g * dx
    return dx, dgamma, np.einsum("nchw->c", dy)


def test_bn_checker_accepts_other_right_answers(capsys):
    def reference_loops(dy, cache):
        return cl.reference.batchnorm2d_backward(dy, cache)

    for fn in (reference_loops, _bn_by_nodes):
        report = ch09.check_bn_backward(fn)
        assert report and report.bugs == (), str(report)
        assert "PASSED" in capsys.readouterr().out
    assert not ch09.check_bn_backward(lambda dy, cache: None)
    assert "not implemented yet" in capsys.readouterr().out


def test_the_planted_code_is_the_three_switches():
    for case in cl.check.BATCHNORM_CASES:
        a = case.arrays()
        _, cache = cl.reference.batchnorm2d_forward(a["x"], a["gamma"], a["beta"], case.eps)
        planted = ch09.mystery_bn_backward(a["dy"], cache)
        model = _bn_by_nodes(a["dy"], cache, count="N", mean_path=False, gamma="direct")
        for got, want in zip(planted, model, strict=True):
            assert got.shape == want.shape and cl.rel_error(got, want) < 1e-12


BN_HALF_FIXES = [  # (bugs left in the planted code or slips made fixing it, the ids the checker must name)
    ({"count": "N", "mean_path": False, "gamma": "direct"}, {"bn-count", "bn-mean-path", "bn-gamma"}),
    ({"count": "N", "mean_path": False}, {"bn-count", "bn-mean-path"}),
    ({"count": "N", "gamma": "direct"}, {"bn-count", "bn-gamma"}),
    ({"mean_path": False, "gamma": "direct"}, {"bn-mean-path", "bn-gamma"}),
    ({"count": "N"}, {"bn-count"}),
    ({"mean_path": False}, {"bn-mean-path"}),
    ({"gamma": "direct"}, {"bn-gamma"}),
    ({"count": "size"}, {"bn-count"}),  # "fixed" with x.size: every channel's values
    ({"count": "size", "mean_path": False}, {"bn-count", "bn-mean-path"}),
    ({"gamma": "outside"}, {"bn-gamma"}),  # "fixed" by multiplying all of dx by γ
    ({"gamma": "outside", "count": "N"}, {"bn-gamma", "bn-count"}),
    ({"dgamma_from_dx_hat": True}, {"bn-gamma"}),  # γ put into ∂E/∂x̂, and ∂E/∂γ taken from it
]


@pytest.mark.parametrize(("bugs", "ids"), BN_HALF_FIXES)
def test_bn_checker_names_each_bug_left(bugs, ids):
    report = ch09.check_bn_backward(lambda dy, cache, b=bugs: _bn_by_nodes(dy, cache, **b))
    assert not report
    assert set(report.bugs) == ids, str(report)
    assert set(ids) <= set(cl.check.BUG_IDS)


def test_the_planted_code_keeps_every_shape_and_is_shown_without_diagnosis(capsys):
    report = ch09.check_bn_backward(ch09.mystery_bn_backward, diagnose=False)
    out = capsys.readouterr().out
    assert not report and "Diagnosis" not in out and "has shape" not in out
    assert set(report.bugs) == {"bn-count", "bn-mean-path", "bn-gamma"}  # known, not printed
    assert all(c.got_shapes == {} for c in report.cases)
    assert "wrong dx" in out and "dgamma" not in out and "dbeta" not in out


@pytest.mark.parametrize("name", list(ch09.FIGURES))
def test_every_registered_figure_draws_within_the_column(name):
    fig = ch09.FIGURES[name]()
    assert fig.get_size_inches()[0] * fig.dpi <= 1100
    assert fig.axes[0].get_title() or fig.get_suptitle() != ""
    plt.close(fig)
