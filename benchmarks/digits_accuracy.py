"""Accuracy of the error-delta question's network on real handwritten digits, over 5 seeds.

The network of "How propagate the error delta in backpropagation in convolutional
neural networks (CNN)?": 28x28 → Conv2D(1, 3, 5) → ReLU → MaxPool2D(2) → Flatten (432)
→ Dense(432, 10), softmax cross-entropy, trained with plain minibatch SGD (no momentum)
on ``cnnlib.data.load_digits28``. Prints the test accuracy of each seed, their mean and
minimum, and the training time of one run. Used in notebooks/05_pooling_and_a_full_cnn.ipynb.

    python benchmarks/digits_accuracy.py            # the full recipe (20 epochs), seeds 0-4
    python benchmarks/digits_accuracy.py --phases 0.1:15
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import cnnlib as cl
from cnnlib.data import load_digits28

# (learning rate, epochs) phases: plain SGD at 0.1, then a few epochs at 0.01 so that the
# final weights do not sit on one of the loss spikes that lr 0.1 produces (notebook 05).
# Measured: 97.2% mean, 97.2% min over seeds 0-4; 15 epochs at 0.1 alone: 97.1% mean, 96.3% min.
RECIPE = ((0.1, 15), (0.01, 5))


def question_net(rng):
    """The error-delta question's network, PyTorch's default initialisation."""
    return cl.Sequential(
        [cl.Conv2D(1, 3, 5, rng=rng), cl.ReLU(), cl.MaxPool2D(2), cl.Flatten(), cl.Dense(432, 10, rng=rng)]
    )


def train(seed, phases=RECIPE, batch_size=32):
    """Train one network from seed.

    Returns (test accuracy, wall-clock seconds, CPU seconds of this process) spent in
    ``cl.fit``; on a shared machine the CPU time is the steadier number (it counts
    NumPy's BLAS threads too, so on an idle machine it can exceed the wall time).
    """
    X, y = load_digits28("train")
    X_test, y_test = load_digits28("test")
    rng = np.random.default_rng(seed)
    model = question_net(rng)
    t0, c0 = time.perf_counter(), time.process_time()
    for lr, epochs in phases:
        cl.fit(
            model, X, y, loss=cl.softmax_cross_entropy, lr=lr, epochs=epochs, batch_size=batch_size, rng=rng
        )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    accuracy = float(np.mean(model.forward(X_test).argmax(axis=1) == y_test))
    return accuracy, seconds, cpu


def parse_phases(text):
    return tuple((float(lr), int(ep)) for lr, ep in (p.split(":") for p in text.split(",")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. SEEDS-1")
    parser.add_argument(
        "--phases", type=parse_phases, default=RECIPE, help="lr:epochs,lr:epochs,... (default 0.1:15,0.01:5)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    recipe = ", ".join(f"{ep} epochs at lr {lr:g}" for lr, ep in args.phases)
    print(f"plain SGD, batch {args.batch_size}: {recipe}")
    accs, times, cpus = [], [], []
    for seed in range(args.seeds):
        acc, sec, cpu = train(seed, args.phases, args.batch_size)
        accs.append(acc)
        times.append(sec)
        cpus.append(cpu)
        print(f"seed {seed}: test accuracy {100 * acc:.1f}%  ({sec:.1f} s wall, {cpu:.1f} s CPU)", flush=True)
    print(
        f"mean {100 * np.mean(accs):.1f}%, min {100 * np.min(accs):.1f}%, max {100 * np.max(accs):.1f}% "
        f"over {args.seeds} seeds"
    )
    print(
        f"training time per run: wall mean {np.mean(times):.1f} s, max {np.max(times):.1f} s; "
        f"CPU mean {np.mean(cpus):.1f} s, max {np.max(cpus):.1f} s"
    )


if __name__ == "__main__":
    main()
