#!/usr/bin/env bash
# A short training run of the book model under valgrind's memcheck: any invalid read or write,
# use of uninitialized memory in a decision, or definite leak fails it (exit 1).
# Valgrind emulates AVX2 at most, so the trainer is built without -march=native in
# build-memcheck/.
#
#   tools/memcheck.sh            (a build of the trainer, then about 10 seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build-memcheck -G Ninja -DCMAKE_BUILD_TYPE=Check -DLOOM_NATIVE=OFF \
  -DLOOM_BUILD_TESTS=OFF >/dev/null
cmake --build build-memcheck -j2 --target trainer
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# oneDNN's AVX2 kernels, generated at run time, load vector tails with masked loads, which
# memcheck counts as full-width reads (hundreds of reports at "???" with no symbol). Capped at
# SSE4.1, oneDNN generates kernels without them, and the run must be entirely clean.
ONEDNN_MAX_CPU_ISA=SSE41 valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
  --errors-for-leak-kinds=definite --log-file="$out/memcheck.log" \
  build-memcheck/trainer train configs/fashion_mnist_mlp.yaml --threads 1 \
  --set trainer.epochs=1 --set data.train.limit=2000 --set data.test.limit=500 --out "$out/run" ||
  { cat "$out/memcheck.log" >&2; exit 1; }
grep -E "definitely lost|ERROR SUMMARY" "$out/memcheck.log" | sed 's/^==[0-9]*== */memcheck: /'
