#!/usr/bin/env bash
# What a user with an NVIDIA GPU runs first: ResNet50 through trtbench's TensorRT backend and through
# trtexec with the same policy, the output checks of FP16 and INT8, the count of layers TensorRT
# runs in INT8, and one verdict line, always the last line printed (scripts/gpu_check.py):
#   VERDICT: PASS        every check ran and held
#   VERDICT: INCOMPLETE  TensorRT's checks held, but trtexec is not there to compare with
#   VERDICT: FAIL: why   TensorRT did not run, or a check failed (each reason named)
#   bash scripts/gpu_check.sh   (the repository's .venv if present, else trtbench on PATH; models/,
#                                engines/ and results/ of the current folder, as trtbench's own defaults)
# No `set -e`: a step that fails is a reason in the verdict, not the end of the script.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRTBENCH=${TRTBENCH:-$( [ -x "$ROOT/.venv/bin/trtbench" ] && echo "$ROOT/.venv/bin/trtbench" || echo trtbench )}
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python3 )}
# A fresh folder per check, so records of an earlier check never stand in for this one's.
RESULTS=${RESULTS:-results/gpu_check/$(date -u +%Y%m%dT%H%M%SZ)}
MODEL=${MODEL:-ResNet50}
POLICY=(--precision fp32,fp16 --batch 1,8,32 --warmup-ms 200 --duration 3 --iterations 10)
TRTEXEC_HINT="trtexec is not in TensorRT's pip wheels: it comes with TensorRT's tar package (bin/trtexec) or \
NVIDIA's TensorRT container (/usr/src/tensorrt/bin/trtexec); put it on PATH and run this again"

verdict_fail() {
  echo "VERDICT: FAIL: $*"
  exit 1
}

mkdir -p "$RESULTS" || verdict_fail "cannot create $RESULTS"
echo "gpu_check: results in $RESULTS"
# NVIDIA's container has trtexec here without putting it on PATH.
if ! command -v trtexec >/dev/null 2>&1 && [ -x /usr/src/tensorrt/bin/trtexec ]; then
  PATH="$PATH:/usr/src/tensorrt/bin"
fi

$TRTBENCH doctor || echo "gpu_check: trtbench doctor exited $? (what it lists as missing is above)" >&2
$TRTBENCH export "$MODEL" || verdict_fail "trtbench export $MODEL failed (exit status $?): nothing to time; \
its message is above"
$TRTBENCH run "$MODEL" --backend tensorrt "${POLICY[@]}" --results-dir "$RESULTS/tensorrt" || true
trtexec_args=()
if command -v trtexec >/dev/null 2>&1; then
  $TRTBENCH run "$MODEL" --backend trtexec "${POLICY[@]}" --results-dir "$RESULTS/trtexec" || true
else
  echo "gpu_check: trtexec is not on PATH: no side-by-side run" >&2
  trtexec_args=(--trtexec-missing "$TRTEXEC_HINT")
fi
$TRTBENCH run "$MODEL" --backend tensorrt --precision int8 --batch 8 --results-dir "$RESULTS/int8" || true
$TRTBENCH verify "$MODEL" --backend tensorrt --precision fp16,int8 --json > "$RESULTS/verify.json" || true
if compgen -G "$RESULTS/tensorrt/*.json" >/dev/null; then
  $TRTBENCH report --markdown --reference --results-dir "$RESULTS/tensorrt" || true
fi
# The verdict is gpu_check.py's last line; if it cannot say one (no Python, trtbench not importable),
# this script says why instead.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
$PYTHON "$ROOT/scripts/gpu_check.py" "$RESULTS" ${trtexec_args[@]+"${trtexec_args[@]}"} 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
if ! tail -n 1 "$out" | grep -q '^VERDICT: '; then
  verdict_fail "scripts/gpu_check.py gave no verdict (exit status $status, with $PYTHON); its output is above"
fi
exit "$status"
