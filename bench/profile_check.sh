#!/usr/bin/env bash
# Checks hare-profile's targets on the reference model and prints the figures:
#  1. sum of per-layer medians vs whole-model median, at every thread count;
#  2. agreement of two consecutive profiles (per-layer medians);
#  3. wall time of a default profile.
# Usage: bench/profile_check.sh [model.pt]   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HARE_BUILD_DIR:-build}/bin
MODEL=${1:-models/hare-cnn.pt}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

for run in 1 2; do
  start=$(date +%s%N)
  "$BIN/hare-profile" --model "$MODEL" --out "$OUT/run$run.yaml" -q
  end=$(date +%s%N)
  echo "profile run $run: $(( (end - start) / 1000000 )) ms wall (default settings)"
done
echo
echo "== run 1: sum of layers vs whole model"
"$BIN/hare-profile" show "$OUT/run1.yaml" | grep -E "ms@|sum of layers|whole model|sum/whole"
echo
echo "== run 1 vs run 2: per-layer medians (target: within 10% for layers >= 0.05 ms)"
"$BIN/hare-profile" compare "$OUT/run1.yaml" "$OUT/run2.yaml" --min-ms 0.05 | tail -1
"$BIN/hare-profile" compare "$OUT/run1.yaml" "$OUT/run2.yaml" --min-ms 0.01 | tail -1

# The reference model's layers take < 0.05 ms for one window on a fast CPU;
# a batch of 16 windows gives layers above that size to compare.
echo
echo "== batch of 16 windows: two consecutive profiles"
"$BIN/hare-profile" --model "$MODEL" --input-shape 16,6,128 --out "$OUT/b1.yaml" -q
"$BIN/hare-profile" --model "$MODEL" --input-shape 16,6,128 --out "$OUT/b2.yaml" -q
"$BIN/hare-profile" show "$OUT/b1.yaml" | grep -E "sum/whole"
"$BIN/hare-profile" compare "$OUT/b1.yaml" "$OUT/b2.yaml" --min-ms 0.05 | tail -1
