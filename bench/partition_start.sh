#!/usr/bin/env bash
# Start-up time of hare-partition, which must stay torch-free so that CI
# scripts can plan in milliseconds: `--help` and a real solve, one warm-up
# then 5 timed runs each, wall clock; prints min/median/max and whether
# LibTorch is among its libraries.
# Usage: bench/partition_start.sh [cluster.yaml] [profiles-dir]
#   (defaults: configs/local-3node.yaml, profiles; the cluster's devices need
#    a profile of models/hare-cnn.pt there)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${HARE_BUILD_DIR:-build}/bin
CLUSTER=${1:-configs/local-3node.yaml}
PROFILES=${2:-profiles}
RUNS=5

time_runs() {  # label, command...
  local label=$1; shift
  "$@" >/dev/null
  local times=()
  for _ in $(seq $RUNS); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" -v runs=$RUNS '
    { t[NR] = $1 / 1000 }
    END { printf "%-28s min %8.1f ms  median %8.1f ms  max %8.1f ms  (%d runs)\n", label, t[1], t[int((runs + 1) / 2)], t[runs], runs }'
}

echo "hare-partition start-up: $BIN/hare-partition, cluster $CLUSTER, profiles $PROFILES, $(nproc) cores"
time_runs "--help" "$BIN/hare-partition" --help
time_runs "solve (no --out)" "$BIN/hare-partition" --model models/hare-cnn.pt --cluster "$CLUSTER" --profiles "$PROFILES"
if ldd "$BIN/hare-partition" | grep -q libtorch; then echo "links libtorch: yes"; else echo "links libtorch: no"; fi
