#!/usr/bin/env bash
# The main job on the embedded default: build hare (installing missing
# packages first), evaluate the reference models on the held-out real
# MHEALTH subjects 07 and 08, profile DeepConvLSTM layer by layer on this
# machine, plan it for a care home (configs/care-home.yaml: 64 residents'
# sensor streams, a Pi-class gateway, three edge boards of differing speed,
# a cloud behind the home's uplink; no single board keeps up), deploy the
# plan as local processes, stream the held-out recordings through it at
# real time and report measured against predicted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=${HARE_BUILD_DIR:-build}/bin
MODEL=models/deepconvlstm.pt
VALIDATION=(data/mhealth/subject07.tsv.gz data/mhealth/subject08.tsv.gz)

if [[ ! -f models/hare-cnn.pt || ! -f models/hare-cnn.yaml ]]; then
  echo "== training hare-cnn on subjects 01-06 (validation: 07-08)" >&2
  "$BIN/hare-train" --data data/mhealth --train-subjects 1-6 --val-subjects 7,8 --name hare-cnn --out models >&2
fi
if [[ ! -f $MODEL || ! -f models/deepconvlstm.yaml ]]; then
  # The shipped model's recipe (README, "hare-train").
  echo "== training DeepConvLSTM on subjects 01-06 (validation: 07-08; about 13 minutes on 2 cores)" >&2
  "$BIN/hare-train" --arch deepconvlstm --data data/mhealth --train-subjects 1-6 --val-subjects 7,8 \
    --dropout 0.2 --rotation-deg 25 --seed 7 --threads 1 --name deepconvlstm --out models >&2
fi

for model in models/hare-cnn.pt "$MODEL"; do
  echo "== evaluating $model on held-out subjects 07 and 08" >&2
  "$BIN/hare-train" eval --model "$model" "${VALIDATION[@]}"
done

DEMO=$(pwd)/${HARE_BUILD_DIR:-build}/demo
echo "== profiling $MODEL layer by layer on this machine (one to four minutes)" >&2
mkdir -p "$DEMO"
# Written under build/demo/profiles/<device-id>/, so the shipped profiles stay as they are.
(cd "$DEMO" && "$OLDPWD/$BIN/hare-profile" --model "$OLDPWD/$MODEL")

# 64 residents, one window per second each: 64 windows/s at real time.
echo "== partitioning on configs/care-home.yaml (objective latency, SLO 90 ms at the 95th percentile) -> $DEMO/plan" >&2
"$BIN/hare-partition" --model "$MODEL" --cluster configs/care-home.yaml --profiles "$DEMO/profiles" \
  --out "$DEMO/plan" --force

# 40 windows per stream: 2560 windows in about 40 s.
echo "== deploying the plan locally and streaming subjects 07 and 08 as 64 residents at real time" >&2
"$BIN/hare-deploy" local --plan "$DEMO/plan" --run-dir "$DEMO/run" \
  --data "${VALIDATION[@]}" --streams 64 --limit 40
