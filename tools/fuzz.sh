#!/usr/bin/env bash
# Fuzzes the readers of untrusted bytes (experiment YAML, idx/idx.gz, .npy/.npz and CSV data,
# PNG/JPEG images, safetensors checkpoints), the restoring of a checkpoint's metadata
# (fuzzer-chosen values in a validly sealed checkpoint, given to Trainer::resume) and the
# explicit-graph builder (random node lists) and the ONNX importer with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer.
# Every input must end in a clean rejection (loom::InputError) or success; a crash, a leak,
# a sanitizer report or any other exception fails the run and leaves the input in
# build-fuzz/crashes/.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

tools/setup.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Check -DCMAKE_CXX_COMPILER=clang++ \
  -DLOOM_FUZZ=ON -DLOOM_SANITIZE=address,undefined -DLOOM_BUILD_TESTS=OFF -DLOOM_NATIVE=OFF >/dev/null
targets=(fuzz_config fuzz_idx fuzz_npy fuzz_image fuzz_csv fuzz_checkpoint
  fuzz_checkpoint_metadata fuzz_graph fuzz_onnx)
cmake --build build-fuzz -j2 --target "${targets[@]}"

seed_corpus() {
  local target=$1 seeds=$2
  mkdir -p "build-fuzz/corpus/$target"
  cp -n tests/fuzz/corpus/"$seeds"/* "build-fuzz/corpus/$target/" 2>/dev/null || true
}
seed_corpus fuzz_config config
seed_corpus fuzz_idx idx
seed_corpus fuzz_npy npy
seed_corpus fuzz_image image
seed_corpus fuzz_csv csv
seed_corpus fuzz_checkpoint checkpoint
seed_corpus fuzz_checkpoint_metadata checkpoint_metadata
seed_corpus fuzz_graph graph
seed_corpus fuzz_onnx onnx
# The shipped configs are the best seeds the YAML fuzzer can have.
cp -n configs/*.yaml configs/optimizers/*.yaml tests/bad_configs/*.yaml build-fuzz/corpus/fuzz_config/ 2>/dev/null || true

mkdir -p build-fuzz/crashes
status=0
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s" >&2
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build-fuzz/$target" "build-fuzz/corpus/$target" -max_total_time="$seconds" \
      -max_len=65536 -rss_limit_mb=4096 -artifact_prefix="build-fuzz/crashes/$target-" \
      -print_final_stats=1 2>"build-fuzz/$target.log"; then
    echo "fuzz: $target FAILED; see build-fuzz/$target.log and build-fuzz/crashes/" >&2
    status=1
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "build-fuzz/$target.log" | sed "s/^/  /" >&2 || true
done
exit $status
