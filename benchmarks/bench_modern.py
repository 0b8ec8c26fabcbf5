"""The modern block (issue 26): batch norm and a residual block, forward + backward, vs PyTorch.

    python benchmarks/bench_modern.py [--repeats 9] [--dtypes float32,float64]

Two rows per dtype, on N=64, C=32, 28x28 (the issue's goal: within 2x PyTorch at float32,
1.5x at float64), medians of interleaved rounds with the spread of the per-round ratios
and the ratio of the minima:

- batch norm: ``batchnorm2d_forward`` (training mode) then ``batchnorm2d_backward``,
  against ``torch.nn.functional.batch_norm(training=True)`` and its backward;
- residual block: conv3x3-BN-ReLU-conv3x3-BN plus the identity, then ReLU, as
  ``cl.Sequential([cl.Residual(...), cl.ReLU()])`` forward + backward (∂E/∂x included),
  against the same block of torch.nn modules;
- its 2 convs: the block's two conv3x3 layers alone, forward + backward (``cl.Conv2D``
  against ``torch.nn.Conv2d``), to tell the convolution's share of the block's ratio.

Before timing, cnnlib and torch are checked to agree on the same inputs and weights.
"""

from __future__ import annotations

import argparse

import numpy as np
from _bench import fmt_ratio, import_torch, interleaved_medians, machine_note, ratio, torch_note

import cnnlib as cl

N, C, H = 64, 32, 28


def bn_case(dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C, H, H)) * 2 + 1).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, C).astype(dtype), rng.standard_normal(C).astype(dtype)
    return x, gamma, beta, rng.standard_normal(x.shape).astype(dtype)


def cnnlib_bn(x, gamma, beta, dy):
    def run():
        y, cache = cl.batchnorm2d_forward(x, gamma, beta)
        return y, *cl.batchnorm2d_backward(dy, cache)

    return run


def torch_bn(torch, x, gamma, beta, dy):
    tx, tg, tb, tdy = (torch.from_numpy(a) for a in (x, gamma, beta, dy))

    def run():
        xx, gg, bb = (t.detach().requires_grad_() for t in (tx, tg, tb))
        y = torch.nn.functional.batch_norm(xx, None, None, gg, bb, training=True, eps=1e-5)
        y.backward(tdy)
        return y, xx.grad, gg.grad, bb.grad

    return run


def cnnlib_block(dtype, seed=0):
    rng = np.random.default_rng(seed)
    model = cl.Sequential([
        cl.Residual(
            cl.Conv2D(C, C, 3, padding=1, rng=rng, dtype=dtype), cl.BatchNorm2D(C, dtype=dtype), cl.ReLU(),
            cl.Conv2D(C, C, 3, padding=1, rng=rng, dtype=dtype), cl.BatchNorm2D(C, dtype=dtype),
        ),
        cl.ReLU(),
    ])  # fmt: skip
    return model


def torch_block(torch, model, dtype):
    """The same block in torch.nn, with cnnlib's initial weights."""
    conv1, bn1, _, conv2, bn2 = model.layers[0].layers
    nn = torch.nn
    tdtype = torch.float32 if dtype == np.float32 else torch.float64

    def conv(layer):
        m = nn.Conv2d(C, C, 3, padding=1).to(tdtype)
        m.weight.data = torch.from_numpy(layer.params["w"].copy())
        m.bias.data = torch.from_numpy(layer.params["b"].copy())
        return m

    def bn():
        return nn.BatchNorm2d(C, eps=1e-5, momentum=0.1).to(tdtype)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(conv(conv1), bn(), nn.ReLU(), conv(conv2), bn())

        def forward(self, x):
            return torch.relu(self.body(x) + x)

    return Block()


def block_runs(torch, dtype):
    model = cnnlib_block(dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)

    def run():
        y = model.forward(x)
        return y, model.backward(dy)

    if torch is None:
        return run, None
    tmodel = torch_block(torch, model, dtype)
    tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)

    def trun():
        xx = tx.detach().requires_grad_()
        tmodel.zero_grad(set_to_none=True)
        y = tmodel(xx)
        y.backward(tdy)
        return y, xx.grad

    return run, trun


def conv_runs(torch, dtype):
    """The block's two conv3x3 layers alone (forward + backward): the share of the block's time
    that is the convolution's, not batch norm's, ReLU's or the residual addition's."""
    model = cnnlib_block(dtype)
    convs = [model.layers[0].layers[0], model.layers[0].layers[3]]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, C, H, H)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)

    def run():
        out = [conv.forward(x) for conv in convs]
        return out + [conv.backward(dy) for conv in convs]

    if torch is None:
        return run, None
    tmodel = torch_block(torch, model, dtype)
    tconvs = [tmodel.body[0], tmodel.body[3]]
    tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)

    def trun():
        out, grads = [], []
        for tconv in tconvs:
            xx = tx.detach().requires_grad_()
            tconv.zero_grad(set_to_none=True)
            y = tconv(xx)
            y.backward(tdy)
            out.append(y)
            grads.append(xx.grad)
        return out + grads

    return run, trun


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--cold", action="store_true", help="no untimed warm-up after each pause (_bench.py)")
    parser.add_argument("--dtypes", default="float32,float64")
    opts = parser.parse_args(argv)
    torch, why_not = import_torch()
    print(machine_note())
    print(torch_note(torch, why_not))
    print(f"N={N}, C={C}, {H}x{H}, training mode")
    print("cold: no warm-up after the pauses" if opts.cold else "each sample after a warm-up (_bench.py)")
    for dtype in opts.dtypes.split(","):
        dtype = np.dtype(dtype)
        print(f"\n{dtype}: forward + backward, median time and ratio to torch")
        print("(in brackets the spread of the per-round ratios, then the ratio of the minima)")
        print(f"{'case':16s} {'cnnlib ms':>9s} {'torch ms':>9s}  {'vs torch':28s}")
        bn_args = bn_case(dtype)
        block_run, block_trun = block_runs(torch, dtype)
        cases = {"batch norm": (cnnlib_bn(*bn_args), torch and torch_bn(torch, *bn_args)),
                 "residual block": (block_run, block_trun),
                 "its 2 convs": conv_runs(torch, dtype)}  # fmt: skip
        for name, (run, trun) in cases.items():
            funcs = {"cnnlib": run}
            if trun is not None:
                funcs["torch"] = trun
                tol = 1e-3 if dtype == np.float32 else 1e-9
                for got, want in zip(run(), trun(), strict=True):
                    err = cl.rel_error(got, want.detach().numpy())
                    assert err < tol, f"{name}: cnnlib disagrees with torch ({err:.1e}): not timing it"
            t = interleaved_medians(funcs, opts.repeats, warm=not opts.cold)
            if trun is None:
                print(f"{name:16s} {1e3 * np.median(t['cnnlib']):9.2f} {'-':>9s}  -")
                continue
            print(f"{name:16s} {1e3 * np.median(t['cnnlib']):9.2f} {1e3 * np.median(t['torch']):9.2f}  "
                  f"{fmt_ratio(*ratio(t['cnnlib'], t['torch'])):28s}")  # fmt: skip


if __name__ == "__main__":
    main()
