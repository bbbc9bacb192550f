#!/usr/bin/python3
"""PyTorch as the oracle for models it exported: the book MLP (Flatten, Linear 784->512, ReLU,
Linear 512->10, Softmax) and a small convnet in PyTorch's own layout (Conv2d with padding,
BatchNorm2d, MaxPool2d, a grouped Conv2d, AvgPool2d counting its padding, Linear), exported with
torch.onnx.export, trained by loom (`model: {onnx: ...}`) and by PyTorch (model.train()) for
the same SGD steps on the same Fashion-MNIST batches (no shuffling), and the weights compared.

    /usr/bin/python3 tests/pytorch/sgd_steps.py [--model mlp|convnet|all] [--steps 20]
                                                [--trainer build/trainer]

Needs Debian's python3-torch and python3-onnx (torch is not installed by tools/setup.sh: it is
a yardstick; ctest runs this as `pytorch_sgd_steps` and reports it skipped without torch). The loss is the crossentropy of the softmax probabilities: loom's
sparse_categorical_crossentropy (Keras's clip to [1e-7, 1 - 1e-7], which no probability here
reaches) and PyTorch's NLLLoss of their log. Prints the largest difference per weight.

BatchNorm2d's running variance is the one place the two differ by definition: PyTorch updates
it with the unbiased batch variance (n/(n-1) times the biased one), loom, like Keras and
ONNX's BatchNormalization, with the biased one; at n = 25,088 values per channel that is
4e-5 relative, reported but below the verdict's tolerance.
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
except ImportError:
    print("python3-torch is not installed: skipped (it is a yardstick, not a dependency)")
    sys.exit(77)  # ctest's SKIP_RETURN_CODE

FASHION = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(os.path.join(FASHION, name)) as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def safetensors(path):
    with open(path, "rb") as f:
        length = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(length))
        body = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], np.float32).reshape(entry["shape"])
    return tensors


def build(name):
    nn = torch.nn
    if name == "mlp":
        return (nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10),
                              nn.Softmax(dim=1)), (28, 28))
    return (nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1, groups=2), nn.ReLU(),
                          nn.AvgPool2d(3, stride=2, padding=1), nn.Flatten(),
                          nn.Linear(16 * 7 * 7, 10), nn.Softmax(dim=1)), (1, 28, 28))


def compare(name, args):
    torch.manual_seed(0)
    model, sample_shape = build(name)
    samples = args.steps * args.batch
    images = idx("train-images-idx3-ubyte.gz")[:samples]
    labels = idx("train-labels-idx1-ubyte.gz")[:samples].astype(np.int32)
    with tempfile.TemporaryDirectory() as work:
        # Exported for training, as a PyTorch user hands a model to another trainer: an eval
        # export would fold BatchNorm2d into the convolution before it.
        torch.onnx.export(model, torch.zeros(1, *sample_shape), os.path.join(work, "model.onnx"),
                          input_names=["image"], dynamic_axes={"image": {0: "batch"}},
                          training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
        images = images.reshape(-1, *sample_shape)
        np.save(os.path.join(work, "x.npy"), images)
        np.save(os.path.join(work, "y.npy"), labels)
        with open(os.path.join(work, "job.yaml"), "w") as f:
            f.write("data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
                    "model: {onnx: model.onnx}\n"
                    f"trainer: {{optimizer: {{sgd: {{learning_rate: {args.learning_rate}}}}}, "
                    "loss: sparse_categorical_crossentropy, "
                    f"batch_size: {args.batch}, shuffle: false, epochs: 1}}\n")
        subprocess.run([args.trainer, "train", os.path.join(work, "job.yaml"), "--out",
                        os.path.join(work, "run"), "--threads", "1"], check=True,
                       stdout=subprocess.DEVNULL)
        trained = safetensors(os.path.join(work, "run", "last.safetensors"))

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    for step in range(args.steps):
        rows = slice(step * args.batch, (step + 1) * args.batch)
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(model(x[rows])), y[rows])
        loss.backward()
        optimizer.step()
    worst = 0.0
    for weight, parameter in model.state_dict().items():
        if not parameter.is_floating_point():
            continue  # BatchNorm2d's num_batches_tracked
        ours = trained["weights/" + weight]
        theirs = parameter.numpy()
        difference = float(np.max(np.abs(ours - theirs)))
        scale = float(np.max(np.abs(theirs)))
        worst = max(worst, difference / scale)
        print(f"{name}: {weight:18} {str(list(theirs.shape)):14} max |loom - torch| "
              f"{difference:.2e} (largest value {scale:.3f})")
    print(f"{name}: {args.steps} SGD steps of batch {args.batch}: largest difference "
          f"{worst:.2e} of a tensor's largest value")
    return worst < 1e-4


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["mlp", "convnet", "all"], default="all")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--trainer", default="build/trainer")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = ["mlp", "convnet"] if args.model == "all" else [args.model]
    results = [compare(name, args) for name in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
