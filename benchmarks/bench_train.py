"""Speed of one training step of the digits net, as ratios of median times, and its profile.

    python benchmarks/bench_train.py [--repeats 15] [--ref-repeats 3] [--ref-images 4]

The net of the design (notebooks/05): Conv2D 1->3 5x5, ReLU, MaxPool2D 2, Flatten,
Dense 432->10, softmax cross-entropy, one SGD update, on a batch of 64 28x28 images.
It prints, per dtype,

- ratio vs reference: cnnlib step time / the same step with ``cnnlib.reference``'s loop
  convolution and pooling (the other layers have no loop twin). The loops cost N times
  one image, so that step is timed on ``--ref-images`` images and scaled up to 64;
- ratio vs torch: cnnlib step time / the same net in torch (2 threads), when torch is
  importable (it is never a dependency of cnnlib);
- the profile of a cnnlib step: the share of the step spent in each layer's forward
  and backward, the loss and the SGD update.

Ratios below 1 mean cnnlib is faster. Before timing, one step of each is compared
(loss and updated weights), so a fast but wrong version cannot be reported.
The images are random: the time of a step does not depend on their values.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _bench import (
    fmt_ratio,
    fmt_small_ratio,
    import_torch,
    interleaved_medians,
    machine_note,
    ratio,
    torch_note,
)

import cnnlib as cl
from cnnlib import reference

BATCH, LR = 64, 0.01
TARGET_VS_TORCH = {np.float32: 1.5, np.float64: 1.2}
TOL = {np.float32: 1e-4, np.float64: 1e-10}


class RefConv2D(cl.Conv2D):
    """Conv2D computed by the loops of cnnlib.reference."""

    def forward(self, x):
        self._x = x
        return reference.conv2d_forward(x, self.params["w"], self.params["b"], self.stride, self.padding)

    def backward(self, dy):
        dx, dw, db = reference.conv2d_backward(dy, self._x, self.params["w"], self.stride, self.padding)
        self.grads = {"w": dw, "b": db}
        return dx


class RefMaxPool2D(cl.MaxPool2D):
    """MaxPool2D computed by the loops of cnnlib.reference."""

    _forward = staticmethod(reference.maxpool2d_forward)
    _backward = staticmethod(reference.maxpool2d_backward)


def digits_net(dtype, conv=cl.Conv2D, pool=cl.MaxPool2D, seed=0):
    rng = np.random.default_rng(seed)
    conv = conv(1, 3, 5, rng=rng, dtype=dtype)
    return cl.Sequential([conv, cl.ReLU(), pool(2), cl.Flatten(), cl.Dense(432, 10, rng=rng, dtype=dtype)])


def cnnlib_step(model, x, labels):
    """Returns a function running one step (forward, loss, backward, SGD) and returning the loss."""
    opt = cl.SGD(model, LR)

    def step():
        loss, dlogits = cl.softmax_cross_entropy(model.forward(x), labels)
        model.backward(dlogits)
        opt.step()
        return loss

    return step


def torch_step(torch, model, x, labels, input_grad=False):
    """The torch twin of ``cnnlib_step``, with its weights copied from the cnnlib ``model``.

    A torch step skips ∂E/∂x of the first layer, as the images do not require grad;
    cnnlib's ``Sequential.backward`` returns it (design API). ``input_grad=True`` makes
    torch compute it too, to compare the same work.
    """
    nn = torch.nn
    conv, dense = model.layers[0], model.layers[4]
    dtype = torch.float32 if conv.params["w"].dtype == np.float32 else torch.float64
    net = nn.Sequential(nn.Conv2d(1, 3, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(432, 10))
    net = net.to(dtype)
    with torch.no_grad():
        for mod, layer in ((net[0], conv), (net[4], dense)):
            mod.weight.copy_(torch.from_numpy(layer.params["w"]))
            mod.bias.copy_(torch.from_numpy(layer.params["b"]))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    tx, tlabels = torch.from_numpy(x), torch.from_numpy(labels)
    tx.requires_grad_(input_grad)

    def step():
        opt.zero_grad()
        tx.grad = None
        loss = torch.nn.functional.cross_entropy(net(tx), tlabels)
        loss.backward()
        opt.step()
        return loss.item()

    params = lambda: [net[0].weight, net[0].bias, net[4].weight, net[4].bias]  # noqa: E731
    return step, params


def cnnlib_params(model):
    conv, dense = model.layers[0], model.layers[4]
    return [conv.params["w"], conv.params["b"], dense.params["w"], dense.params["b"]]


def check_one_step(dtype, x, labels, n_ref, torch):
    """One step from the same weights: cnnlib == reference (on n_ref images) and == torch."""
    for other, n in (("reference", n_ref), ("torch", BATCH)):
        if other == "torch" and torch is None:
            continue
        fast = digits_net(dtype)
        loss = cnnlib_step(fast, x[:n], labels[:n])()
        if other == "reference":
            ref = digits_net(dtype, RefConv2D, RefMaxPool2D)
            ref_loss, ref_params = cnnlib_step(ref, x[:n], labels[:n])(), cnnlib_params(ref)
        else:
            step, params = torch_step(torch, digits_net(dtype), x, labels)
            ref_loss, ref_params = step(), [p.detach().numpy() for p in params()]
        errs = [abs(loss - ref_loss) / abs(ref_loss)]
        errs += [cl.rel_error(a, b) for a, b in zip(cnnlib_params(fast), ref_params, strict=True)]
        if max(errs) > TOL[dtype]:
            raise AssertionError(f"one step of cnnlib and {other} disagree (rel_error {max(errs):.1e})")


def profile_step(model, x, labels, steps):
    """Median seconds of each part of a step (each layer's forward/backward, loss, SGD)."""
    opt = cl.SGD(model, LR)
    names = [type(layer).__name__ for layer in model.layers]
    parts = [f"{n}.forward" for n in names] + ["loss"] + [f"{n}.backward" for n in reversed(names)] + ["SGD"]
    times = np.empty((steps, len(parts)))
    clock = time.perf_counter
    for s in range(steps):
        k, out = 0, x
        for layer in model.layers:
            t = clock()
            out = layer.forward(out)
            times[s, k], k = clock() - t, k + 1
        t = clock()
        _, d = cl.softmax_cross_entropy(out, labels)
        times[s, k], k = clock() - t, k + 1
        for layer in reversed(model.layers):
            t = clock()
            d = layer.backward(d)
            times[s, k], k = clock() - t, k + 1
        t = clock()
        opt.step()
        times[s, k] = clock() - t
    return dict(zip(parts, np.median(times, axis=0), strict=True))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15, help="interleaved samples of cnnlib and torch")
    ap.add_argument("--ref-repeats", type=int, default=3, help="samples of the (slow) reference step")
    ap.add_argument("--ref-images", type=int, default=4, help="images the reference step is timed on")
    ap.add_argument("--profile-steps", type=int, default=200)
    ap.add_argument("--dtypes", default="float32,float64")
    args = ap.parse_args(argv)
    torch, why_not = import_torch()
    print(f"one training step, batch {BATCH}: cnnlib time / other time")
    print("  median ratio [25-75% of per-round ratios], min = ratio of the fastest samples")
    print(machine_note())
    print(torch_note(torch, why_not))
    print(f"reference step timed on {args.ref_images} image(s), scaled to {BATCH}; {args.repeats} rounds\n")
    head = f"{'dtype':<9}{'vs reference':<30}"
    print(head + (f"{'vs torch (target)':<52}vs torch computing ∂E/∂x too" if torch else ""))
    rng = np.random.default_rng(0)
    profiles, missed = {}, []
    for dtype in (getattr(np, d) for d in args.dtypes.split(",")):
        x = rng.standard_normal((BATCH, 1, 28, 28)).astype(dtype)
        labels = rng.integers(0, 10, size=BATCH)
        n = args.ref_images
        check_one_step(dtype, x, labels, n, torch)
        funcs = {"cnnlib": cnnlib_step(digits_net(dtype), x, labels)}
        if torch is not None:
            funcs["torch"] = torch_step(torch, digits_net(dtype), x, labels)[0]
            funcs["torch_dx"] = torch_step(torch, digits_net(dtype), x, labels, input_grad=True)[0]
        t = interleaved_medians(funcs, args.repeats)
        ref = {"ref": cnnlib_step(digits_net(dtype, RefConv2D, RefMaxPool2D), x[:n], labels[:n])}
        scaled_ref = interleaved_medians(ref, args.ref_repeats, calls={"ref": 1})["ref"] * BATCH / n
        line = f"{np.dtype(dtype).name:<9}{fmt_small_ratio(ratio(t['cnnlib'], scaled_ref)[0]):<30}"
        if torch is not None:
            r, target = ratio(t["cnnlib"], t["torch"]), TARGET_VS_TORCH[dtype]
            if r[0] > target:
                missed.append(np.dtype(dtype).name)
            line += f"{fmt_ratio(*r)}  (<= {target}x {'ok' if r[0] <= target else 'MISSED'})"
            line += f"   {fmt_ratio(*ratio(t['cnnlib'], t['torch_dx']))}"
        print(line, flush=True)
        profiles[np.dtype(dtype).name] = profile_step(digits_net(dtype), x, labels, args.profile_steps)
    if torch is not None:
        print("\ntargets missed: " + (", ".join(missed) if missed else "none"))
    print(f"\nprofile of a cnnlib step: share of the step (median of {args.profile_steps} steps per part)")
    print(f"{'part':<20}" + "".join(f"{d:>10}" for d in profiles))
    parts = next(iter(profiles.values()))
    totals = {d: sum(p.values()) for d, p in profiles.items()}
    for part in parts:
        print(f"{part:<20}" + "".join(f"{p[part] / totals[d]:>10.1%}" for d, p in profiles.items()))


if __name__ == "__main__":
    main()
