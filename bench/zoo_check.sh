#!/usr/bin/env bash
# The model zoo's targets (issue "Any HAR model"), printed: for every zoo model
# (tests/fixtures/make_zoo.py, exported here by Debian's python3-torch), its
# segments, the wall time of a profile with default settings (target < 60 s)
# and the sum of segment medians against the whole model's.
# Usage: bench/zoo_check.sh [name-filter]   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${HARE_BUILD_DIR:-build}/bin")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
/usr/bin/python3 tests/fixtures/make_zoo.py "$OUT" 2>/dev/null
while read -r name; do
  [[ -n "${1:-}" && "$name" != *"$1"* ]] && continue
  start=$(date +%s%N)
  (cd "$OUT" && "$BIN/hare-profile" --model "$name.pt" --input-shape 1,6,128 --out "$OUT/$name.yaml" -q)
  end=$(date +%s%N)
  segments=$("$BIN/hare-profile" show "$OUT/$name.yaml" | awk '$1 ~ /^[0-9]+$/ {printf "%s%s", sep, $2; sep=", "}')
  ratio=$("$BIN/hare-profile" show "$OUT/$name.yaml" | awk '/sum\/whole/ {print $2; exit}')
  printf '%-24s profile %6.1f s (default settings)  sum/whole %s  segments: %s\n' "$name" \
    "$(awk -v ns=$((end - start)) 'BEGIN {print ns / 1e9}')" "$ratio" "$segments"
done < "$OUT/names.txt"
