#!/usr/bin/python3
"""What training a PyTorch model through ONNX costs: the book convnet
(configs/fashion_mnist_convnet.yaml, batch 64) or the book MLP (configs/fashion_mnist_mlp.yaml,
batch 32) written in PyTorch ([N, C, H, W]), exported with torch.onnx.export and trained by
loom (`model: {onnx: ...}`, which holds images channels last between one transpose in and one
out), beside the same model as loom's own YAML config and beside PyTorch training it, all for
one epoch of Fashion-MNIST (60,000 images) with rmsprop, one after the other in the same
minutes.

    /usr/bin/python3 tests/benchmarks/pytorch_onnx_training.py [--model convnet|mlp]
                        [--threads 2] [--epochs 1] [--trainer build/trainer]
                        [--torch-flush-denormals]

loom flushes float32 subnormals to zero (trainer.flush_denormals, as TensorFlow/Keras do);
PyTorch keeps them by default, and --torch-flush-denormals sets torch.set_flush_denormal(True).

Prints samples per second for each (loom's from its history.csv: the epoch's training time,
as `trainer train` reports it; PyTorch's timed the same way, over the epoch's steps). Needs
Debian's python3-torch (a yardstick; tools/setup.sh does not install it).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "pytorch"))
from sgd_steps import idx  # noqa: E402  (the Fashion-MNIST idx reader, shared)


def book_convnet():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10), nn.Softmax(dim=1))


def book_mlp():
    nn = torch.nn
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10),
                         nn.Softmax(dim=1))


# name: (PyTorch model, loom's config, batch size)
MODELS = {"convnet": (book_convnet, "fashion_mnist_convnet.yaml", 64),
          "mlp": (book_mlp, "fashion_mnist_mlp.yaml", 32)}


def loom_throughput(trainer, config, work, threads, overrides):
    run = os.path.join(work, "run_" + os.path.basename(config).split(".")[0])
    subprocess.run([trainer, "train", config, "--out", run, "--threads", str(threads)] +
                   [arg for o in overrides for arg in ("--set", o)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(run, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return float(rows[-1]["samples_per_second"])


def torch_throughput(images, labels, threads, epochs, build, batch):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = build()
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    samples_per_second = 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        for first in range(0, len(x), batch):
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(torch.log(model(x[first:first + batch])),
                                                y[first:first + batch])
            loss.backward()
            optimizer.step()
        samples_per_second = len(x) / (time.perf_counter() - start)
    return samples_per_second


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=sorted(MODELS), default="convnet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--trainer", default=os.path.join(ROOT, "build", "trainer"))
    parser.add_argument("--torch-flush-denormals", action="store_true")
    args = parser.parse_args()
    build, config_name, batch = MODELS[args.model]
    images = idx("train-images-idx3-ubyte.gz")
    labels = idx("train-labels-idx1-ubyte.gz").astype(np.int32)
    with tempfile.TemporaryDirectory() as work:
        torch.onnx.export(build(), torch.zeros(1, 1, 28, 28),
                          os.path.join(work, "model.onnx"), input_names=["image"],
                          dynamic_axes={"image": {0: "batch"}})
        np.save(os.path.join(work, "x.npy"), images.reshape(-1, 1, 28, 28))
        np.save(os.path.join(work, "y.npy"), labels)
        config = os.path.join(work, "onnx_model.yaml")
        with open(config, "w") as f:
            f.write("data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
                    "model: {onnx: model.onnx}\n"
                    "trainer: {optimizer: rmsprop, loss: sparse_categorical_crossentropy, "
                    f"batch_size: {batch}, epochs: {args.epochs}}}\n")
        onnx = loom_throughput(args.trainer, config, work, args.threads, [])
        native = loom_throughput(args.trainer, os.path.join(ROOT, "configs", config_name),
                                 work, args.threads,
                                 [f"trainer.epochs={args.epochs}"])
    torch.set_flush_denormal(args.torch_flush_denormals)
    pytorch = torch_throughput(images, labels, args.threads, args.epochs, build, batch)
    print(f"book {args.model}, batch {batch}, rmsprop, {args.threads} threads, samples/s:")
    print(f"  loom, its own config (channels last)  {native:9.0f}")
    print(f"  loom, PyTorch's ONNX export (NCHW)     {onnx:9.0f}  ({onnx / native:.2f} of that)")
    flush = ", subnormals flushed" if args.torch_flush_denormals else ""
    print(f"  PyTorch 1.13 eager{flush:20s} {pytorch:9.0f}  "
          f"(loom on its export: {onnx / pytorch:.1f}x)")


if __name__ == "__main__":
    main()
