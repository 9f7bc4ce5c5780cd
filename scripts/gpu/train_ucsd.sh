#!/usr/bin/env bash
# One device call: train the seed model on UCSD Ped2 and Ped1 at 128 and 256 on one GPU (four runs side by
# side), calibrate (motion cue + autoencoder), evaluate (seed exact protocol and the live scores); CUDA tests and
# the GPU bench first.
# The GPU machine cannot see ../shared: the datasets travel packed (scripts/gpu/pack_ucsd.py, H.264 crf 18, about
# 1 grey level mean difference) under .carry/, and the code as a clean export of HEAD under .carry/snap.
# Results under $OUT (at most 8 files come back): one tar per run, bench and logs.
set -uo pipefail
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
CODE=${CODE:-.carry/snap}
export PYTHONPATH=$CODE/src PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
EPOCHS=${EPOCHS:-3}; DEV=${DEV:-cuda}; SIZES=${SIZES:-128 256}; EXTRA=${EXTRA:-}; EVAL_EXTRA=${EVAL_EXTRA:-}
T0=$(date +%s); el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
{
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cv2', cv2.__version__)"
el "unpack (background) + CUDA tests + bench"
python3 scripts/gpu/unpack_ucsd.py .carry/ped2 /tmp/ds/UCSDped2 & python3 scripts/gpu/unpack_ucsd.py .carry/ped1 /tmp/ds/UCSDped1 &
timeout 60 python3 -m pytest -q -p no:cacheprovider $CODE/tests/test_cuda.py 2>&1 | tail -5
timeout 100 python3 -m video_anomaly bench --device cuda --size 256 --windows 16 --live-frames 32 --repeats 3 --json "$OUT/bench-cuda.json"
wait
el train
for ds in ${DSETS:-ped2 ped1}; do for s in $SIZES; do
  D=/tmp/ds/UCSD${ds}; R=/tmp/runs/$ds-$s; mkdir -p $R
  ( timeout ${TRAIN_S:-270} python3 -m video_anomaly train $D --out $R --size $s --epochs $EPOCHS --device $DEV --cues ae --no-calibrate --quiet $EXTRA > $R/train.log 2>&1
    el "$ds-$s trained rc=$?"
    timeout 120 python3 -m video_anomaly calibrate $R --dataset $D --cues ae,motion --device $DEV > $R/calibrate.log 2>&1
    el "$ds-$s calibrated rc=$?"
    timeout 90 python3 -m video_anomaly evaluate --model $R $D --score seed --device $DEV --no-figures --quiet $EVAL_EXTRA --out $R/exact > $R/exact.log 2>&1
    el "$ds-$s exact rc=$?"
    timeout 120 python3 -m video_anomaly evaluate --model $R $D --score motion,ae,fused --device $DEV --no-figures --quiet $EVAL_EXTRA --out $R/live > $R/live.log 2>&1
    el "$ds-$s live rc=$?" ) &
done; done
wait
el pack
for ds in ${DSETS:-ped2 ped1}; do
  (cd /tmp/runs && tar -cf "$OUT/ckpt-$ds.tar" --exclude optimizer.safetensors --exclude exact --exclude live $ds-* \
   && tar -czf "$OUT/eval-$ds.tar.gz" $ds-*/exact $ds-*/live)
done
ls -la "$OUT"
el done
} 2>&1 | tee "$OUT/log.txt"
