#!/usr/bin/env bash
# The main job on the embedded default: build hare (installing missing
# packages first), train the reference model if models/ lacks it, evaluate
# it on the held-out real MHEALTH subjects 07 and 08, profile it layer by
# layer on this machine, partition it on the embedded 3-node default (a
# verified plan directory in build/demo/plan), deploy it as local processes,
# stream the held-out recordings through it and report measured against
# predicted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${HARE_BUILD_DIR:-build}/bin
MODEL=models/hare-cnn.pt

if [[ ! -f $MODEL || ! -f models/hare-cnn.yaml ]]; then
  echo "== training the reference model on subjects 01-06 (validation: 07-08)" >&2
  "$BIN/hare-train" --data data/mhealth --train-subjects 1-6 --val-subjects 7,8 --name hare-cnn --out models >&2
fi

echo "== evaluating $MODEL on held-out subjects 07 and 08" >&2
"$BIN/hare-train" eval --model "$MODEL" data/mhealth/subject07.tsv.gz data/mhealth/subject08.tsv.gz

DEMO=$(pwd)/${HARE_BUILD_DIR:-build}/demo
echo "== profiling $MODEL layer by layer on this machine" >&2
mkdir -p "$DEMO"
# Written under build/demo/profiles/<device-id>/, so the shipped profiles stay as they are.
(cd "$DEMO" && "$OLDPWD/$BIN/hare-profile" --model "$OLDPWD/$MODEL")

# 8 sensor streams (the config's workload) over the two held-out subjects,
# replayed at 20x real time so that the demo takes about half a minute; the
# plan is made for that pace (--speed 20), since the runtime's wake-up costs
# depend on how long a node idles between windows.
echo "== partitioning on configs/local-3node.yaml (objective latency, 20x real time) -> $DEMO/plan" >&2
"$BIN/hare-partition" --model "$MODEL" --cluster configs/local-3node.yaml --profiles "$DEMO/profiles" \
  --speed 20 --out "$DEMO/plan" --force

echo "== deploying the plan locally and streaming subjects 07 and 08 (8 streams, 20x real time)" >&2
"$BIN/hare-deploy" local --plan "$DEMO/plan" --run-dir "$DEMO/run" \
  --data data/mhealth/subject07.tsv.gz data/mhealth/subject08.tsv.gz --streams 8 --speed 20
