#!/usr/bin/env bash
# Writes an explicit-graph experiment whose model is a long chain, to measure how setup scales
# with the node count (and to check that nothing recurses over nodes):
#
#   tools/chain_config.sh N [add] > /tmp/chain.yaml
#   time build/trainer graph /tmp/chain.yaml > /dev/null
#   time build/trainer train /tmp/chain.yaml --set data.train.limit=64 --out /tmp/chain-run
#
# x[784] -> matmul -> N element-wise nodes on [batch, 10] -> softmax, on Fashion-MNIST. The
# nodes are listed last-first, the order that made a recursive topological sort go deepest.
# The chain is of `scale` nodes (factor 1); with `add`, every other node is instead
# `add(previous, z)`, so the matmul's output has N/2 readers (fan-out and long lifetimes).
set -euo pipefail
count=${1:?usage: chain_config.sh NODE_COUNT [add]}
kind=${2:-scale}
cat <<YAML
name: chain_$count
seed: 42
data:
  root: /usr/share/datasets/fashion-mnist
  train: {format: idx, images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}
model:
  inputs: {x: [784]}
  params:
    w: {shape: [784, 10], init: glorot_uniform}
  nodes:
    - {name: probs, op: softmax, inputs: [n$((count - 1))]}
YAML
awk -v count="$count" -v kind="$kind" 'BEGIN {
  for (i = count - 1; i >= 0; --i) {
    previous = i == 0 ? "z" : "n" (i - 1)
    if (kind == "add" && i % 2 == 1)
      printf "    - {name: n%d, op: add, inputs: [%s, z]}\n", i, previous
    else
      printf "    - {name: n%d, op: scale, factor: 1.0, inputs: [%s]}\n", i, previous
  }
}'
cat <<YAML
    - {name: z, op: matmul, inputs: [x, w]}
  outputs: [probs]
trainer:
  optimizer: sgd
  loss: categorical_crossentropy
  metrics: [accuracy]
  batch_size: 32
  epochs: 1
YAML
