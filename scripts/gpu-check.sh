#!/usr/bin/env bash
# The GPU checks in one call on the device machine (PyTorch with CUDA there; no PyAV, no registry):
#   CUDA tests, then the GPU benches (plain port vs fast path; the live detectors). Results under $OUT.
# Run from the repository root: bash scripts/gpu-check.sh   (CODE=path of a clean export of the source, optional)
set -uo pipefail
OUT=${OUT:-gpu-check-out}
CODE=${CODE:-.}
mkdir -p "$OUT"
export PYTHONPATH=$CODE/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cv2', cv2.__version__)" \
    | tee -a "$OUT/gpu.txt"
timeout 240 python3 -m pytest -q -p no:cacheprovider $CODE/tests/test_cuda.py $CODE/tests/test_motion.py 2>&1 \
    | tee "$OUT/tests.log"
timeout 120 python3 -m video_anomaly bench --what detector --device cuda --detector-frames 200 \
    --json "$OUT/bench-detector-cuda.json" 2>&1 | tee "$OUT/bench.log"
[ -n "${FULL_BENCH:-}" ] && python3 -m video_anomaly bench --device cuda --size 256 --windows 32 --live-frames 64 \
    --repeats 3 --json "$OUT/bench-cuda.json" 2>&1 | tee -a "$OUT/bench.log"
exit 0
