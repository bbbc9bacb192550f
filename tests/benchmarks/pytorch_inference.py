#!/usr/bin/python3
"""The peer for `trainer bench --inference`: the same models in PyTorch eager mode, timed the
same way (p50/p99 latency per call and throughput at batch 1, 32 and 256, uint8 samples
scaled by 1/255 inside the timed call, as loom::Model does).

    /usr/bin/python3 tests/benchmarks/pytorch_inference.py mlp|convnet [--threads 2] [--calls 300]

Needs Debian's python3-torch (not installed by tools/setup.sh: it is only a yardstick).
The weights are random: the time of a dense or convolutional network does not depend on them.
"""
import argparse
import time

import torch


def book_mlp():
    # Deep Learning with Python §2.1: Dense(512, relu) -> Dense(10, softmax) on 784 pixels.
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 10), torch.nn.Softmax(dim=1)), (1, 28, 28)


def book_convnet():
    # configs/fashion_mnist_convnet.yaml (the book's first convnet), NCHW as PyTorch wants it.
    layers = [torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
              torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
              torch.nn.Conv2d(64, 64, 3), torch.nn.ReLU(), torch.nn.Flatten(),
              torch.nn.Linear(576, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10),
              torch.nn.Softmax(dim=1)]
    return torch.nn.Sequential(*layers), (1, 28, 28)


def quantile(values, fraction):
    ordered = sorted(values)
    return ordered[min(int(fraction * (len(ordered) - 1) + 0.5), len(ordered) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=["mlp", "convnet"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=300)
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    model, shape = book_mlp() if arguments.model == "mlp" else book_convnet()
    model.eval()
    print(f"PyTorch {torch.__version__} eager, {arguments.model}, {arguments.threads} threads:")
    print(f"{'batch':>8} {'calls':>8} {'p50 ms':>12} {'p99 ms':>12} {'samples/s':>16}")
    with torch.no_grad():
        for batch in (1, 32, 256):
            samples = torch.randint(0, 256, (batch,) + shape, dtype=torch.uint8)
            for _ in range(max(arguments.calls // 10, 3)):
                model(samples.float() / 255)
            calls = []
            for _ in range(arguments.calls):
                start = time.perf_counter()
                model(samples.float() / 255)
                calls.append((time.perf_counter() - start) * 1e3)
            rate = batch * len(calls) / (sum(calls) / 1e3)
            print(f"{batch:>8} {len(calls):>8} {quantile(calls, 0.5):>12.4f} "
                  f"{quantile(calls, 0.99):>12.4f} {rate:>16.0f}")


if __name__ == "__main__":
    main()
