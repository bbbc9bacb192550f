#!/usr/bin/env bash
# The gradient checker's false-failure count: every built-in op case (tests/support/
# gradient_cases.cpp) at its small size and at 128×128, and `trainer gradcheck` on every
# shipped config, over SEEDS seeds (default 20). A correct engine gives zero failures; the
# summary also counts kinks (elements skipped at a corner of the loss).
#   tools/gradcheck_sweep.sh [SEEDS]        (after tools/build.sh; about 20 minutes here)
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-20}
fashion=/usr/share/datasets/fashion-mnist

echo "== ops: $seeds seeds, small and 128×128 (gradient_checker_test) =="
LOOM_GRADCHECK_SEEDS=$seeds LOOM_GRADCHECK_LARGE_SEEDS=$seeds OMP_NUM_THREADS=1 build/tests/gradient_checker_test \
  --gtest_filter='*Passes*' --gtest_brief=1 2>&1 | tail -n 5

echo "== configs: $seeds seeds each (trainer gradcheck) =="
configs=(configs/*.yaml configs/optimizers/*.yaml examples/custom_op/prelu_mlp.yaml)
for config in "${configs[@]}"; do
  flags=()
  case $(basename "$config") in mnist_*) flags=(--set "data.root=$fashion") ;; esac
  failed=0 kinks=0 checked=0
  for seed in $(seq 1 "$seeds"); do
    out=$(build/trainer gradcheck "$config" --seed "$seed" "${flags[@]}" 2>&1)
    [[ $? -eq 0 ]] || failed=$((failed + 1))
    # Rows end "... ] checked kinks worst_abs worst_rel result".
    read -r c k < <(grep '\]' <<<"$out" | sed 's/.*\] *//' |
      awk '$1 ~ /^[0-9]+$/ {c += $1; k += $2} END {print c + 0, k + 0}')
    checked=$((checked + c)) kinks=$((kinks + k))
  done
  printf '%-55s seeds failing %2d of %d; elements checked %6d, kinks %d\n' \
    "$config" "$failed" "$seeds" "$checked" "$kinks"
done
