"""The modern block's layers against PyTorch's, value by value (not a test: torch is never a dependency).

    PYTHONPATH=. /path/to/torch-venv/bin/python benchmarks/torch_agreement_modern.py

Prints the largest relative error (cnnlib.rel_error) of each comparison, float64:
batch norm in training mode (forward, ∂E/∂x, ∂E/∂γ, ∂E/∂β), the running statistics after
three steps (PyTorch's momentum and unbiased variance), eval mode (forward, backward),
global average pooling, and a residual block with a 1x1 convolution shortcut (forward,
∂E/∂x and every parameter's gradient; the biases right before a batch norm, whose gradient
is 0 in the maths, as |db| over Σ|δ|, for both libraries). Exits with status 1 if any
error exceeds 1e-10.
"""

from __future__ import annotations

import sys

import numpy as np

import cnnlib as cl


def main():
    import torch

    torch.set_num_threads(2)
    nn = torch.nn
    rng = np.random.default_rng(0)
    rows = []

    def compare(name, ours, theirs):
        err = cl.rel_error(ours, theirs.detach().numpy() if hasattr(theirs, "detach") else theirs)
        rows.append((name, err))

    # batch norm, training mode, three steps, then eval mode
    C = 3
    bn, tbn = cl.BatchNorm2D(C, momentum=0.3), nn.BatchNorm2d(C, momentum=0.3).double()
    gamma, beta = rng.uniform(0.5, 2, C), rng.standard_normal(C)
    bn.params["gamma"][:], bn.params["beta"][:] = gamma, beta
    tbn.weight.data, tbn.bias.data = torch.from_numpy(gamma.copy()), torch.from_numpy(beta.copy())
    for step in range(3):
        x = rng.standard_normal((4, C, 5, 3)) * 2 + 1
        dy = rng.standard_normal(x.shape)
        tx = torch.from_numpy(x).requires_grad_()
        ty = tbn(tx)
        ty.backward(torch.from_numpy(dy))
        y, dx = bn.forward(x), bn.backward(dy)
        if step == 0:
            compare("batch norm (training) y", y, ty)
            compare("batch norm (training) dx", dx, tx.grad)
            compare("batch norm (training) dgamma", bn.grads["gamma"], tbn.weight.grad)
            compare("batch norm (training) dbeta", bn.grads["beta"], tbn.bias.grad)
        tbn.weight.grad = tbn.bias.grad = None
    compare("running_mean after 3 steps", bn.running_mean, tbn.running_mean)
    compare("running_var after 3 steps", bn.running_var, tbn.running_var)
    bn.eval()
    tbn.eval()
    x, dy = rng.standard_normal((2, C, 4, 4)), rng.standard_normal((2, C, 4, 4))
    tx = torch.from_numpy(x).requires_grad_()
    ty = tbn(tx)
    ty.backward(torch.from_numpy(dy))
    compare("batch norm (eval) y", bn.forward(x), ty)
    compare("batch norm (eval) dx", bn.backward(dy), tx.grad)
    compare("batch norm (eval) dgamma", bn.grads["gamma"], tbn.weight.grad)

    # global average pooling
    x = rng.standard_normal((3, 4, 5, 6))
    tx = torch.from_numpy(x).requires_grad_()
    ty = nn.AdaptiveAvgPool2d(1)(tx).flatten(1)
    dy = rng.standard_normal(ty.shape)
    ty.backward(torch.from_numpy(dy))
    gap = cl.GlobalAvgPool2D()
    compare("global average pool y", gap.forward(x), ty)
    compare("global average pool dx", gap.backward(dy), tx.grad)

    # a residual block with a 1x1 convolution shortcut (2 -> 4 channels)
    conv1, bn1 = cl.Conv2D(2, 4, 3, padding=1, rng=1), cl.BatchNorm2D(4)
    conv2, bn2 = cl.Conv2D(4, 4, 3, padding=1, rng=2), cl.BatchNorm2D(4)
    short = cl.Conv2D(2, 4, 1, rng=3)
    block = cl.Sequential([cl.Residual(conv1, bn1, cl.ReLU(), conv2, bn2, shortcut=short), cl.ReLU()])

    def tconv(layer, k, pad):
        m = nn.Conv2d(layer.in_channels, layer.out_channels, k, padding=pad).double()
        m.weight.data = torch.from_numpy(layer.params["w"].copy())
        m.bias.data = torch.from_numpy(layer.params["b"].copy())
        return m

    tconv1, tconv2, tshort = tconv(conv1, 3, 1), tconv(conv2, 3, 1), tconv(short, 1, 0)
    tbn1, tbn2 = nn.BatchNorm2d(4).double(), nn.BatchNorm2d(4).double()
    x = rng.standard_normal((3, 2, 6, 5))
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.relu(tbn2(tconv2(torch.relu(tbn1(tconv1(tx))))) + tshort(tx))
    dy = rng.standard_normal(ty.shape)
    ty.backward(torch.from_numpy(dy))
    compare("residual block y", block.forward(x), ty)
    compare("residual block dx", block.backward(dy), tx.grad)
    for name, ours, theirs in [
        ("conv1", conv1, tconv1),
        ("conv2", conv2, tconv2),
        ("shortcut", short, tshort),
    ]:
        compare(f"residual block d{name}.w", ours.grads["w"], theirs.weight.grad)
        if name == "shortcut":
            compare(f"residual block d{name}.b", ours.grads["b"], theirs.bias.grad)
            continue
        # a bias right before a batch norm: 0 in the maths, rounding in both libraries, so the two
        # are compared (and each is measured) against the scale of the terms that cancel, Σ|δ|
        scale = float(np.abs(dy).sum())
        rows.append(
            (f"residual block d{name}.b (0 in the maths)", float(np.max(np.abs(ours.grads["b"]))) / scale)
        )
        rows.append(("  torch's, for comparison", float(theirs.bias.grad.abs().max()) / scale))
    for name, ours, theirs in [("bn1", bn1, tbn1), ("bn2", bn2, tbn2)]:
        compare(f"residual block d{name}.gamma", ours.grads["gamma"], theirs.weight.grad)
        compare(f"residual block d{name}.beta", ours.grads["beta"], theirs.bias.grad)

    print(f"torch {torch.__version__}, float64; largest relative error of each comparison:")
    for name, err in rows:
        print(f"  {name:42s} {err:.1e}")
    worst = max(err for _, err in rows)
    print(f"worst: {worst:.1e} ({'agree' if worst < 1e-10 else 'DISAGREE'})")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
