#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer and UndefinedBehaviorSanitizer in
# build-asan/ and runs the full test suite there: any out-of-bounds access, use after free,
# leak or undefined behaviour in project code fails the test that hit it.
#
#   tools/sanitize.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Check \
  -DLOOM_SANITIZE=address,undefined -DLOOM_NATIVE=OFF >/dev/null
cmake --build build-asan -j2
# oneDNN's JIT kernels are generated at run time and are not instrumented; the engine's own
# code, the configs, readers and the trainer are.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# The interrupt loop runs each trainer several times slower here: fewer signals, same checks.
export LOOM_INTERRUPT_TRIALS=${LOOM_INTERRUPT_TRIALS:-30}
# The gradient checker's own test: 3 seeds per op case instead of 20 (the same code paths).
export LOOM_GRADCHECK_SEEDS=${LOOM_GRADCHECK_SEEDS:-3}
export LOOM_GRADCHECK_LARGE_SEEDS=${LOOM_GRADCHECK_LARGE_SEEDS:-0}  # see gradient_checker_test
export UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir build-asan --output-on-failure -j2 "$@"
