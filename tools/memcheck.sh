#!/usr/bin/env bash
# A short training run of the book model under valgrind's memcheck: any invalid read or write,
# use of uninitialized memory in a decision, or definite leak fails it (exit 1).
# Valgrind emulates AVX2 at most: the trainer is built without -march=native in
# build-memcheck/, and oneDNN picks its AVX2 kernels at run time.
#
#   tools/memcheck.sh            (a few minutes: a build, then a run about 50x slower than native)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build-memcheck -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_NATIVE=OFF \
  -DLOOM_BUILD_TESTS=OFF >/dev/null
cmake --build build-memcheck -j2 --target trainer
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite \
  --log-file="$out/memcheck.log" \
  build-memcheck/trainer train configs/fashion_mnist_mlp.yaml --threads 1 \
  --set trainer.epochs=1 --set data.train.limit=2000 --set data.test.limit=500 --out "$out/run"

# oneDNN generates its kernels at run time, and memcheck reports reads there that it cannot
# attribute (masked AVX2 loads, which memcheck treats as full-width, are the usual cause).
# Those reports sit in code with no symbol ("at 0x...: ???") and are counted apart. Any
# report in compiled code (the engine, the libraries, the C++ runtime), including definite
# leaks, is a failure.
awk '
  /^==[0-9]+== (Invalid|Conditional|Use of uninitialised|Mismatched|Syscall param|.*definitely lost in)/ {
    pending = 1; next
  }
  pending && /^==[0-9]+==    (at|by) 0x/ {
    if ($0 ~ /: \?\?\?$/ && $0 ~ / at /) jit++; else { real++; print > "/dev/stderr" }
    pending = 0
  }
  END {
    printf "memcheck: %d reports in compiled code, %d in oneDNN run-time generated code (not judged)\n", real, jit
    exit real > 0
  }' "$out/memcheck.log" || { grep -A12 -E "Invalid|uninitialised|Conditional|definitely lost in" "$out/memcheck.log" | head -80; exit 1; }
grep -E "definitely lost|ERROR SUMMARY" "$out/memcheck.log" | sed 's/^==[0-9]*== /memcheck: /'
