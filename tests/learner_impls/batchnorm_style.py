"""Batch-norm layers as learners write them, each with an optional planted bug.

CS231n style: a vanilla ``batchnorm_forward``/``batchnorm_backward`` on (M, C) rows, and the
spatial versions that lay (N, C, H, W) out as rows of C values; bn_param dicts, (out, cache).
cnnlib style: a backward written node by node from cnnlib's own cache (x̂, γ, 1/σ, μ, σ²).
Written for these tests; the names follow the public assignment's interface only.
"""

from __future__ import annotations

import numpy as np


def make_spatial_batchnorm(bug=None):
    """(spatial_batchnorm_forward, spatial_batchnorm_backward) with one planted bug (None: correct)."""

    def to_rows(x):
        N, C, H, W = x.shape
        if bug == "reshape":  # the classic: rows that are not one pixel's channels
            return x.reshape(-1, C)
        if bug == "per_pixel":  # statistics over N only, one per (c, i, j)
            return x.reshape(N, -1)
        return x.transpose(0, 2, 3, 1).reshape(-1, C)

    def from_rows(r, shape):
        N, C, H, W = shape
        if bug in ("reshape", "per_pixel"):
            return r.reshape(shape)
        return r.reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def batchnorm_forward(x, gamma, beta, bn_param):
        eps = bn_param.get("eps", 1e-5)
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1 if bug == "unbiased" else 0)
        x_hat = (x - mu) / np.sqrt(var + eps)
        return gamma * x_hat + beta, (x, x_hat, mu, var, gamma, eps)

    def batchnorm_backward(dout, cache):
        x, x_hat, mu, var, gamma, eps = cache
        m = x.shape[0]
        std = np.sqrt(var + eps)
        dbeta = dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=0)
        dx_hat = dout * gamma * (gamma if bug == "gamma_twice" else 1)
        if bug == "no_gamma":
            dx_hat = dout
        dvar = np.sum(dx_hat * (x - mu), axis=0) * -0.5 * std**-3
        dmu = -np.sum(dx_hat, axis=0) / std
        dx = dx_hat / std + dvar * 2 * (x - mu) / m + dmu / m
        if bug == "no_mean_path":
            dx = dx_hat / std + dvar * 2 * (x - mu) / m
        if bug == "no_var_path":
            dx = dx_hat / std + dmu / m
        if bug == "dbeta_mean":
            dbeta = dbeta / m
        return dx, dgamma, dbeta

    def spatial_batchnorm_forward(x, gamma, beta, bn_param):
        if bug == "per_pixel":  # γ and β per channel, broadcast to the (N, C·H·W) rows
            N, C, H, W = x.shape
            gamma, beta = np.repeat(gamma, H * W), np.repeat(beta, H * W)
        out, cache = batchnorm_forward(to_rows(x), gamma, beta, bn_param)
        return from_rows(out, x.shape), (cache, x.shape)

    def spatial_batchnorm_backward(dout, cache):
        cache, shape = cache
        dx, dgamma, dbeta = batchnorm_backward(to_rows(dout), cache)
        if bug == "per_pixel":
            N, C, H, W = shape
            dgamma, dbeta = dgamma.reshape(C, -1).sum(axis=1), dbeta.reshape(C, -1).sum(axis=1)
        if bug == "dgamma_over_n":  # summed over N, then left per pixel
            x_hat = from_rows(cache[1], shape)
            dgamma = (dout * x_hat).sum(axis=0)
        return from_rows(dx, shape), dgamma, dbeta

    return spatial_batchnorm_forward, spatial_batchnorm_backward


def make_cnnlib_backward(bug=None):
    """fn(dy, cache) -> (dx, dgamma, dbeta) from cnnlib's BatchNormCache, with one planted bug."""

    def batchnorm_backward(dy, cache):
        x_hat, gamma, inv_std = cache.x_hat, cache.gamma, cache.inv_std
        N, C, H, W = x_hat.shape
        M = N * H * W
        g, s = gamma.reshape(1, C, 1, 1), inv_std.reshape(1, C, 1, 1)
        centred = x_hat / s  # x − μ
        dbeta = dy.sum(axis=(0, 2, 3))
        dgamma = (dy * x_hat).sum(axis=(0, 2, 3))
        if bug == "dgamma_times_gamma":
            dgamma = dgamma * gamma
        if bug == "keepdims":
            dbeta = dy.sum(axis=(0, 2, 3), keepdims=True)
        dx_hat = dy * g
        dvar = (dx_hat * centred).sum(axis=(0, 2, 3), keepdims=True) * -0.5 * s**3
        dmu = -(dx_hat * s).sum(axis=(0, 2, 3), keepdims=True)
        var_divisor = M - 1 if bug == "unbiased" else M
        dx = dx_hat * s + dvar * 2 * centred / var_divisor + dmu / M
        if bug == "statistics_constant":  # the eval-mode backward in training mode
            dx = dx_hat * s
        if bug == "zeros":
            dx = np.zeros_like(dy)
        return dx, dgamma, dbeta

    return batchnorm_backward


def cnnlib_style_forward(x, gamma, beta, eps):
    """A learner's own forward for the 'cnnlib' convention: its cache is a plain tuple."""
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1), (x_hat, gamma, var, eps)


def cnnlib_style_backward(dy, cache):
    """The simplified formula, from the learner's own tuple cache."""
    x_hat, gamma, var, eps = cache
    M = dy.size // dy.shape[1]
    dbeta, dgamma = dy.sum(axis=(0, 2, 3)), (dy * x_hat).sum(axis=(0, 2, 3))
    k = gamma.reshape(1, -1, 1, 1) / np.sqrt(var + eps)
    dx = k * (dy - dbeta.reshape(1, -1, 1, 1) / M - x_hat * dgamma.reshape(1, -1, 1, 1) / M)
    return dx, dgamma, dbeta
