#!/usr/bin/env bash
# Rebuild the shipped detectors' calibration (the cues fitted here, per-region statistics, thresholds) and measure
# every live score they have. The autoencoders were trained on a GPU by scripts/gpu/train_ucsd.sh (seed recipe at
# 128x128, 3 epochs); their checkpoints (model.safetensors + checkpoint.json) sit in
# src/video_anomaly/weights/ucsd-*/checkpoint/ and are not retrained here.
#   bash scripts/build_models.sh [ped2|ped1 ...]      (UCSD defaults to ../shared/datasets/UCSD_Anomaly_Dataset.v1p2)
#   CUES=ae,motion bash scripts/build_models.sh ped2   (the cues to fit; default: the autoencoder and every cue
#                                                       fitted without a training loop)
set -euo pipefail
UCSD=${UCSD:-../shared/datasets/UCSD_Anomaly_Dataset.v1p2}
VA=${VA:-.venv/bin/video-anomaly}
PY=${PY:-.venv/bin/python}
CUES=${CUES:-$($PY -c "from video_anomaly.cues import CUES; print(','.join(CUES))")}
for n in ${@:-ped2 ped1}; do
  $VA calibrate src/video_anomaly/weights/ucsd-$n --dataset $UCSD/UCSD$n --cues $CUES --device cpu
  live=$($PY -c "from video_anomaly import Detector; print(','.join(Detector.load('ucsd-$n').thresholds))")
  $VA evaluate --model ucsd-$n $UCSD/UCSD$n --score $live --out runs/models/ucsd-$n --quiet --device cpu
  # What `video-anomaly models` prints: read from these evaluation.json files, never typed.
  $PY scripts/record_measured.py ucsd-$n runs/models/ucsd-$n --data "UCSD ${n^} Test ($UCSD/UCSD$n)" \
    --command "video-anomaly evaluate --model ucsd-$n \$UCSD/UCSD$n --score $live --out runs/models/ucsd-$n"
done
