#!/usr/bin/env bash
# The GPU checks in one call on the device machine (PyTorch with CUDA there; no PyAV, no registry):
#   CUDA tests, then the GPU bench (plain port vs fast path side by side). Results under $OUT.
# Run from the repository root: bash scripts/gpu-check.sh
set -uo pipefail
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"
python -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_fast.py tests/test_inference.py 2>&1 | tee "$OUT/tests.log"
python -m video_anomaly bench --device cuda --size 256 --windows 32 --live-frames 64 --repeats 3 \
    --json "$OUT/bench-cuda.json" 2>&1 | tee "$OUT/bench.log"
