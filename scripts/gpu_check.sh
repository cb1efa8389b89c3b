#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and TensorRT: the page's two headline models through trtbench's
# TensorRT backend (and trtexec, when it is on PATH), then the report beside the page's numbers.
#   bash scripts/gpu_check.sh            (uses .venv if present, else the current python)
set -euo pipefail
cd "$(dirname "$0")/.."
TRTBENCH=${TRTBENCH:-$( [ -x .venv/bin/trtbench ] && echo .venv/bin/trtbench || echo trtbench )}
RESULTS=${RESULTS:-results/gpu_check}
MODELS="ResNet50 ResNet50_vd"

$TRTBENCH doctor
$TRTBENCH export $MODELS
status=0
$TRTBENCH run $MODELS --backend tensorrt --precision fp32,fp16 --batch 1,4,8,32 --results-dir "$RESULTS" || status=$?
if command -v trtexec >/dev/null 2>&1; then
  $TRTBENCH run $MODELS --backend trtexec --precision fp32,fp16 --batch 1,4,8,32 --results-dir "$RESULTS" || status=$?
else
  echo "trtexec is not on PATH: skipping the side-by-side run" >&2
fi
$TRTBENCH report --markdown --reference --results-dir "$RESULTS"
exit $status
