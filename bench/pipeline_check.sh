#!/usr/bin/env bash
# Measures hare's runtime against the issue's targets and prints the figures:
#  1. per-hop overhead (encode, send, receive, decode) on loopback;
#  2. throughput with the source as fast as possible, against the plan's
#     prediction, when a link bounds it and when compute does;
#  3. per-stage compute, measured against the profile's prediction;
#  4. peak RSS per node, split in two against the whole model on one node.
# Usage: bench/pipeline_check.sh   (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HARE_BUILD_DIR:-build}/bin
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
DATA="data/mhealth/subject07.tsv.gz data/mhealth/subject08.tsv.gz"

echo "== 1. per-hop overhead"
"$BIN/pipeline_bench" 20000

# A fresh profile of this machine, so that predictions are for it.
(cd "$OUT" && "$OLDPWD/$BIN/hare-profile" --model "$OLDPWD/models/hare-cnn.pt" -q)
# Plans are made for the pace they are run at (the runtime's wake-up costs
# depend on it): "fast" for a source as fast as possible (objective
# throughput, a workload no plan meets), else the replay speed.
plan() {  # config, pace (fast | replay speed) -> plan dir
  local pace=(--speed "$2")
  [[ $2 == fast ]] && pace=(--objective throughput --speed 100000)
  "$BIN/hare-partition" --model models/hare-cnn.pt --profiles "$OUT/profiles" --cluster "bench/configs/$1.yaml" \
    "${pace[@]}" --out "$OUT/$1-$2" >/dev/null 2>&1
  echo "$OUT/$1-$2"
}
run() {  # plan dir, extra args
  local dir=$1; shift
  # shellcheck disable=SC2086
  "$BIN/hare-deploy" local --plan "$dir" --run-dir "$dir.run" --data $DATA "$@" 2>/dev/null
}

echo
echo "== 2a. throughput, link-bound (20 Mbit/s emulated), source as fast as possible, 8 streams"
run "$(plan two-stage-link-bound fast)" --speed 0 --streams 8 | grep -E "windows:|throughput|stage [0-9] on"
echo
echo "== 2b. throughput, compute-bound (1 Gbit/s), source as fast as possible, 8 streams"
run "$(plan two-stage-compute-bound fast)" --speed 0 --streams 8 | grep -E "windows:|throughput|stage [0-9] on"
echo
echo "== 3. per-stage compute and latency at sensor pace: 8 streams at 100x and 5x real time (625 and 31 windows/s)"
run "$(plan two-stage-compute-bound 100)" --speed 100 --streams 8 | grep -E "latency|stage [0-9] on"
run "$(plan two-stage-compute-bound 5)" --speed 5 --streams 8 --limit 100 | grep -E "latency|stage [0-9] on"
echo
echo "== 4. peak RSS per node: split in two vs the whole model on one node (8 streams, as fast as possible)"
run "$OUT/two-stage-compute-bound-fast" --speed 0 --streams 8 | grep "peak RSS"
run "$(plan single-node fast)" --speed 0 --streams 8 | grep -E "peak RSS|throughput|stage [0-9] on"
