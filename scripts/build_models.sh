#!/usr/bin/env bash
# Rebuild the shipped detectors' calibration (motion cue + per-region statistics + thresholds) and measure them.
# The autoencoders were trained on a GPU by scripts/gpu/train_ucsd.sh (seed recipe at 128x128, 3 epochs); their
# checkpoints (model.safetensors + checkpoint.json) sit in src/video_anomaly/weights/ucsd-*/checkpoint/.
#   bash scripts/build_models.sh [ped2|ped1 ...]      (UCSD defaults to ../shared/datasets/UCSD_Anomaly_Dataset.v1p2)
set -euo pipefail
UCSD=${UCSD:-../shared/datasets/UCSD_Anomaly_Dataset.v1p2}
VA=${VA:-.venv/bin/video-anomaly}
for n in ${@:-ped2 ped1}; do
  $VA calibrate src/video_anomaly/weights/ucsd-$n --dataset $UCSD/UCSD$n --cues ae,motion --device cpu
  $VA evaluate --model ucsd-$n $UCSD/UCSD$n --score motion,ae,fused --out runs/models/ucsd-$n --quiet --device cpu
done
