#!/usr/bin/env bash
# scripts/gpu-check.sh runs only when a session is lent a GPU, so a break in it would surface
# then, when device time is scarce. This runs it here on prebuilt binaries with a tiny plan:
# without a GPU every stage must end with its reason and the table must still print (exit 1);
# with one, it trains (exit 0 or 1 by the targets). A crash, a bash error or a missing table fails.
# Usage: gpu_check_dry_run.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
build=$1
src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OUT="$out/results" GPU_CHECK_ROOT="$src" GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_BUILD="$build" GPU_CHECK_MODEL=tiny-dense \
  GPU_CHECK_GB=8 GPU_CHECK_STEPS=2 GPU_CHECK_PLANS="mbs=2;mbs=2,flash_attention=off,recompute=selective" \
  GPU_CHECK_BUDGET_S=300 bash "$src/scripts/gpu-check.sh" >"$out/stdout" 2>"$out/stderr"
rc=$?
fail() {
  echo "FAIL: $*"
  echo "--- stdout"; cat "$out/stdout"; echo "--- stderr"; tail -n 30 "$out/stderr"
  exit 1
}
[ "$rc" -le 1 ] || fail "gpu-check.sh exited $rc (0 or 1 expected)"
grep -q "line [0-9]*: " "$out/stderr" && fail "bash reported an error"
if command -v python3 >/dev/null 2>&1; then
  grep -q "^stage       status   note" "$out/stdout" || fail "no stage table"
  for stage in toolkit build tests calibrate train0 simulate0 train1 simulate1 cli; do
    grep -Eq "^$stage +(ok|FAIL|not run) " "$out/stdout" || fail "stage $stage missing from the table"
  done
  grep -q "measured (CUDA executor) vs predicted" "$out/stdout" || fail "no measured-vs-predicted table"
  # Without a usable GPU nothing may pass silently: the GPU stages fail with their reason.
  if ! grep -Eq "^calibrate +ok" "$out/stdout"; then
    [ "$rc" = 1 ] || fail "calibration failed but the script exited $rc"
    grep -Eq "^calibrate +FAIL +.+" "$out/stdout" || fail "calibrate failed without a reason"
  fi
else
  grep -q "raw results" "$out/stdout" || fail "no raw results without python3"
fi
echo "ok: gpu-check.sh dry run exited $rc with its table"
