#!/usr/bin/env bash
# For the first machine with an NVIDIA GPU and TensorRT: ResNet50 through trtbench's TensorRT
# backend and through trtexec with the same policy, the output checks of FP16 and INT8, the count of
# layers TensorRT runs in INT8, and one verdict line (scripts/gpu_check.py).
#   bash scripts/gpu_check.sh            (uses .venv if present, else the current python)
set -euo pipefail
cd "$(dirname "$0")/.."
TRTBENCH=${TRTBENCH:-$( [ -x .venv/bin/trtbench ] && echo .venv/bin/trtbench || echo trtbench )}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
RESULTS=${RESULTS:-results/gpu_check}
MODEL=ResNet50
POLICY=(--precision fp32,fp16 --batch 1,8,32 --warmup-ms 200 --duration 3 --iterations 10)
mkdir -p "$RESULTS"

$TRTBENCH doctor
$TRTBENCH export $MODEL
$TRTBENCH run $MODEL --backend tensorrt "${POLICY[@]}" --results-dir "$RESULTS/tensorrt" || true
if command -v trtexec >/dev/null 2>&1; then
  $TRTBENCH run $MODEL --backend trtexec "${POLICY[@]}" --results-dir "$RESULTS/trtexec" || true
else
  echo "trtexec is not on PATH: no side-by-side run" >&2
fi
$TRTBENCH run $MODEL --backend tensorrt --precision int8 --batch 8 --results-dir "$RESULTS/int8" || true
$TRTBENCH verify $MODEL --backend tensorrt --precision fp16,int8 --json > "$RESULTS/verify.json" || true
$TRTBENCH report --markdown --reference --results-dir "$RESULTS/tensorrt"
$PYTHON scripts/gpu_check.py "$RESULTS"
