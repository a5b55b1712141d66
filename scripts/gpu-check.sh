#!/usr/bin/env bash
# The CUDA backend's device check, for a machine with one (or more) NVIDIA GPU(s): builds for
# sm_80 and sm_90 (A100, H100/H200), runs the GPU tests, calibrates (hardware profile), trains a
# GPT of about 1.7B parameters for a few steps on GPU 0 under two plans (fused attention, the
# executor's own kernel; unfused, cuBLAS GEMMs and a softmax kernel), and asks `shardplan
# simulate` with the calibrated profile what it predicts for each, and trains a two-layer TP plan
# through the main CLI (`shardplan run --backend cuda`). Prints a table last: measured
# step time, MFU, peak memory against the prediction, with the targets (MFU >= 45 %, predictions
# within 10 %).
#
# At most 8 minutes (each stage gets what is left of the budget); every stage that cannot run
# says why in the table instead of being skipped silently. Exit status 0 when every stage ran
# and every target was met, 1 otherwise. Not `set -e`: a failed stage is recorded (status, exit
# code, the last lines of its stderr) and the later stages and the table still run, but the
# script's exit status is 1 whenever any stage failed.
#
#   scripts/gpu-check.sh            # results and logs in $OUT (or a new temporary directory)
#   GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_BUILD=build-gpu scripts/gpu-check.sh   # prebuilt binaries
#   GPU_CHECK_MODEL=gpt-1.7b GPU_CHECK_GB=16 GPU_CHECK_STEPS=4 \
#     GPU_CHECK_PLANS="mbs=8;mbs=8,flash_attention=off,recompute=selective" scripts/gpu-check.sh
set -uo pipefail
cd "${GPU_CHECK_ROOT:-$(dirname "$0")/..}" || { echo "gpu-check: cannot cd to the repository" >&2; exit 1; }

OUT=${OUT:-$(mktemp -d /tmp/gpu-check.XXXXXX)}
mkdir -p "$OUT" || { echo "gpu-check: cannot create $OUT" >&2; exit 1; }
BUILD=${GPU_CHECK_BUILD:-build-gpu}
MODEL=${GPU_CHECK_MODEL:-gpt-1.7b}
GB=${GPU_CHECK_GB:-16}
# Strategy strings (core/strategy.hpp) for one GPU, ';'-separated; mbs, recompute and
# flash_attention are passed on to simulate.
# The unfused plan recomputes the probabilities (selective): the memory model's unfused attention
# keeps Megatron's scores, softmax and dropout mask (5·heads·seq² bytes per sequence and layer),
# the executor only the bf16 softmax, so only without them do the two count the same tensors.
# mbs=8 keeps about 72 GiB (simulate's prediction for gpt-1.7b): an H200 holds it, an 80 GB
# H100 only barely (the pool's fragmentation comes on top), so GPUs under 100 GB run mbs=4.
MBS=8
GPU_MEM_MIB=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -n 1 | tr -dc '0-9')
if [ -n "$GPU_MEM_MIB" ] && [ "$GPU_MEM_MIB" -lt 100000 ]; then MBS=4; fi
IFS=';' read -r -a PLANS <<<"${GPU_CHECK_PLANS:-mbs=$MBS;mbs=$MBS,flash_attention=off,recompute=selective}"
STEPS=${GPU_CHECK_STEPS:-4}
# 8 minutes less the slack a stage killed at its deadline may take (timeout --kill-after=10) and
# the table.
BUDGET_S=${GPU_CHECK_BUDGET_S:-455}
START=$(date +%s)

declare -A STATUS NOTE
STAGES=(toolkit build tests calibrate)
for i in "${!PLANS[@]}"; do STAGES+=("train$i" "simulate$i"); done
STAGES+=(cli)
for s in "${STAGES[@]}"; do STATUS[$s]="not run"; NOTE[$s]=""; done

left() { echo $((BUDGET_S - ($(date +%s) - START))); }
log() { echo "gpu-check [$(($(date +%s) - START))s] $*" >&2; }
# run_stage NAME CAP_S LOGFILE CMD...: runs CMD with a timeout of min(CAP_S, budget left).
run_stage() {
  local name=$1 cap=$2 logf=$3
  shift 3
  local t
  t=$(left)
  [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -le 5 ]; then
    STATUS[$name]="FAIL"
    NOTE[$name]="no time left in the ${BUDGET_S}s budget"
    return 1
  fi
  log "$name: $* (timeout ${t}s)"
  local t0=$(date +%s)
  timeout --kill-after=10 "$t" "$@" >"$logf" 2>"$logf.err"
  local rc=$?
  local took=$(($(date +%s) - t0))
  if [ $rc -eq 0 ]; then
    STATUS[$name]="ok"
    NOTE[$name]="${took}s"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    STATUS[$name]="FAIL"
    NOTE[$name]="timed out after ${took}s (log $logf)"
  else
    STATUS[$name]="FAIL"
    NOTE[$name]="exit $rc after ${took}s: $(tail -n 3 "$logf.err" | tr '\n' ' ' | cut -c1-300)"
  fi
  return $rc
}

# ---- toolkit and GPU ----
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
if command -v nvcc >/dev/null 2>&1; then
  STATUS[toolkit]="ok"
  # The driver must be at least as new as the toolkit (else every GPU case reports "no usable
  # GPU: CUDA driver version is insufficient"), so show both.
  NOTE[toolkit]="$(nvcc --version | tail -n 2 | head -n 1); $( (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi missing') | head -n 2 | tr '\n' ' ')"
else
  STATUS[toolkit]="FAIL"
  NOTE[toolkit]="no nvcc: the CUDA toolkit is missing, so the CUDA backend cannot be built"
fi

# ---- build (sm_80 and sm_90; the targets this check needs) ----
# GPU_CHECK_SKIP_BUILD=1 uses binaries already in $BUILD (built elsewhere for sm_80/sm_90 and
# carried over, where this machine lacks the build dependencies or the time).
# Ninja where it is installed (and $BUILD is not already configured with another generator).
GENERATOR=""
if [ ! -f "$BUILD/CMakeCache.txt" ] && command -v ninja >/dev/null 2>&1; then GENERATOR="-G Ninja"; fi
if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
  if [ -x "$BUILD/shardplan" ] && [ -x "$BUILD/shardplan-cuda" ] && [ -x "$BUILD/tests/executor_cuda_tests" ]; then
    STATUS[build]="ok"; NOTE[build]="skipped: prebuilt binaries in $BUILD"
  else
    STATUS[build]="FAIL"; NOTE[build]="GPU_CHECK_SKIP_BUILD=1 but $BUILD lacks shardplan, shardplan-cuda or tests/executor_cuda_tests"
  fi
elif [ "${STATUS[toolkit]}" = ok ]; then
  if run_stage build 300 "$OUT/build.log" bash -c "
      cmake -S . -B '$BUILD' $GENERATOR -DCMAKE_BUILD_TYPE=Release -DSHARDPLAN_CUDA_ARCHITECTURES=90 &&
      cmake --build '$BUILD' -j \$(nproc) --target shardplan shardplan-cuda executor_cuda_tests"; then
    grep -h "shardplan: CUDA executor" "$OUT/build.log" >"$OUT/cuda-config.txt" 2>/dev/null
    NOTE[build]="${NOTE[build]}; $(head -n 1 "$OUT/cuda-config.txt")"
  elif ! grep -q "CUDA executor with" "$OUT/build.log" 2>/dev/null; then
    NOTE[build]="${NOTE[build]} (CMake did not configure the CUDA executor: see $OUT/build.log)"
  fi
else
  STATUS[build]="FAIL"; NOTE[build]="needs the toolkit"
fi

# ---- GPU tests ----
if [ "${STATUS[build]}" = ok ]; then
  run_stage tests 240 "$OUT/gpu-tests.txt" "$BUILD/tests/executor_cuda_tests"
  summary=$(grep -h "test cases:" "$OUT/gpu-tests.txt" | tail -n 1)
  skipped=$(grep -c "skipped: no GPU" "$OUT/gpu-tests.txt")
  NOTE[tests]="${NOTE[tests]}; ${summary#\[doctest\] }"
  if [ "$skipped" -gt 0 ]; then
    STATUS[tests]="FAIL"
    NOTE[tests]="${NOTE[tests]}; $skipped case(s) found no GPU: $(grep -h -m1 -o 'skipped: no GPU.*' "$OUT/gpu-tests.txt")"
  fi
  skipped_multi=$(grep -c "needs NCCL and two GPUs" "$OUT/gpu-tests.txt")
  [ "$skipped_multi" -gt 0 ] && NOTE[tests]="${NOTE[tests]}; $skipped_multi multi-GPU case(s) skipped (one GPU)"
else
  STATUS[tests]="FAIL"; NOTE[tests]="needs the build"
fi

# ---- calibration ----
if [ "${STATUS[build]}" = ok ]; then
  run_stage calibrate 120 "$OUT/calibrate.json" "$BUILD/shardplan-cuda" calibrate --out "$OUT/profile.json" --json
else
  STATUS[calibrate]="FAIL"; NOTE[calibrate]="needs the build"
fi

# ---- per plan: training on GPU 0 (every rank of the plan on it), and the prediction ----
CLUSTER="$OUT/profile.json"
CLUSTER_NOTE=""
if [ "${STATUS[calibrate]}" != ok ]; then
  CLUSTER=dgx-h200
  nvidia-smi -L 2>/dev/null | head -n 1 | grep -q H100 && CLUSTER=dgx-h100
  CLUSTER_NOTE="uncalibrated (calibrate failed): preset $CLUSTER; "
fi
for i in "${!PLANS[@]}"; do
  plan=${PLANS[$i]}
  if [ "${STATUS[build]}" = ok ]; then
    run_stage "train$i" 180 "$OUT/train$i.json" "$BUILD/shardplan-cuda" train --model "$MODEL" \
      --plan "$plan" --global-batch "$GB" --steps "$STEPS"
  else
    STATUS[train$i]="FAIL"; NOTE[train$i]="needs the build"
  fi
  flags=(--model "$MODEL" --cluster "$CLUSTER" --gpus 1 --global-batch "$GB" --json)
  mbs=$(grep -o 'mbs=[0-9]*' <<<"$plan" | cut -d= -f2)
  [ -n "$mbs" ] && flags+=(--micro-batch "$mbs")
  rc=$(grep -o 'recompute=[a-z]*' <<<"$plan" | cut -d= -f2)
  [ -n "$rc" ] && flags+=(--recompute "$rc")
  grep -q 'flash_attention=off' <<<"$plan" && flags+=(--no-flash-attention)
  if [ -x "$BUILD/shardplan" ]; then
    run_stage "simulate$i" 60 "$OUT/simulate$i.json" "$BUILD/shardplan" simulate "${flags[@]}"
    NOTE[simulate$i]="$CLUSTER_NOTE${NOTE[simulate$i]}"
  else
    STATUS[simulate$i]="FAIL"; NOTE[simulate$i]="needs the build (shardplan)"
  fi
done

# ---- the main CLI's CUDA entry point (cli/cuda_backend.cpp): a two-layer TP plan, both ranks on GPU 0 ----
if [ -x "$BUILD/shardplan" ] && [ "${STATUS[build]}" = ok ]; then
  run_stage cli 60 "$OUT/cli-run.json" "$BUILD/shardplan" run --backend cuda --model "$MODEL" --layers 2 \
    --gpus 2 --tp 2 --global-batch 4 --micro-batch 1 --steps 2 --json
  [ "${STATUS[cli]}" = ok ] && NOTE[cli]="shardplan run --backend cuda (tp=2, 2 layers): ${NOTE[cli]}"
else
  STATUS[cli]="FAIL"; NOTE[cli]="needs the build"
fi

# ---- the table ----
{
  for s in "${STAGES[@]}"; do printf '%s\t%s\t%s\n' "$s" "${STATUS[$s]}" "${NOTE[$s]}"; done
} >"$OUT/stages.tsv"
log "done in $(($(date +%s) - START))s; files in $OUT"
if ! command -v python3 >/dev/null 2>&1; then
  echo "python3 is missing: cannot build the table; raw results:"
  cat "$OUT/stages.tsv"
  for f in "$OUT"/train*.json "$OUT"/simulate*.json "$OUT"/calibrate.json; do echo "== $f"; cat "$f" 2>/dev/null; done
  exit 1
fi
python3 - "$OUT" "$MODEL" "$GB" "${PLANS[@]}" <<'PY'
import json, os, sys
out, model, gb, plans = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def load(name):
    try:
        with open(os.path.join(out, name)) as f:
            return json.load(f)
    except Exception as e:
        return None
stages = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "stages.tsv"))]
cal = load("calibrate.json")
ok = all(s[1] == "ok" for s in stages)
print()
print("stage       status   note")
for name, status, note in stages:
    print(f"{name:<11} {status:<8} {note}")
if cal:
    print(f"\ncalibration: {cal['device']} x{cal['devices']} ({cal['versions']})")
    best = max((p for p in cal["gemm"] if p["math"] == "bf16"), key=lambda p: p["tflops"])
    print(f"  best bf16 GEMM {best['tflops']:.0f} TFLOP/s ({best['m']}x{best['n']}x{best['k']}), gemm_peak_fraction {cal['gemm_peak_fraction']:.3f}")
    print(f"  fused attention fwd {cal['attention_fwd_tflops']:.1f} / bwd {cal['attention_bwd_tflops']:.1f} TFLOP/s"
          f" (fractions {cal['attention_fwd_fraction']:.3f} / {cal['attention_bwd_fraction']:.3f})")
    print(f"  copy {cal['copy_GBps']:.0f} GB/s, layernorm/GELU kernels {cal.get('pointwise_GBps', 0):.0f} GB/s"
          f" ({cal.get('pointwise_detail', '')}), launch {cal['launch_us']:.1f} us, runtime reserved {cal['reserved_bytes']/2**30:.2f} GiB")
reserved = cal["reserved_bytes"] if cal else 0
tables = []
for i, plan in enumerate(plans):
    train, sim = load(f"train{i}.json"), load(f"simulate{i}.json")
    rows = []
    def row(metric, meas, pred, fmt):
        if meas is None or pred is None:
            rows.append((metric, "n/a" if meas is None else fmt(meas), "n/a" if pred is None else fmt(pred), "n/a", "|err| <= 10%", "FAIL"))
            return False
        err = (pred - meas) / meas
        good = abs(err) <= 0.10
        rows.append((metric, fmt(meas), fmt(pred), f"{err*100:+.1f}%", "|err| <= 10%", "ok" if good else "MISS"))
        return good
    meas_step = train["step_time_s"] if train else None
    pred_step = sim["step_time_s"] if sim else None
    ok &= row("step time", meas_step, pred_step, lambda v: f"{v:.3f} s")
    # Same model FLOPs and peak in both, so the measured MFU is the predicted one scaled by the times.
    mfu_pred = sim["mfu"] if sim else None
    mfu_meas = mfu_pred * pred_step / meas_step if (mfu_pred and meas_step) else None
    ok &= row("MFU", mfu_meas, mfu_pred, lambda v: f"{v*100:.1f}%")
    mfu_good = mfu_meas is not None and mfu_meas >= 0.45
    rows.append(("MFU target", f"{mfu_meas*100:.1f}%" if mfu_meas else "n/a", "", "", ">= 45%", "ok" if mfu_good else "MISS"))
    ok &= mfu_good
    meas_mem = train["device_peak_bytes"][0] + reserved if train and train.get("device_peak_bytes") else None
    ok &= row("peak memory", meas_mem, sim["peak_memory_bytes"] if sim else None, lambda v: f"{v/2**30:.2f} GiB")
    ok &= row("tokens/s", train["tokens_per_s"] if train else None, sim["tokens_per_s"] if sim else None,
              lambda v: f"{v:,.0f}")
    if train:
        losses = " ".join(f"{s['loss']:.4f}" for s in train["steps"])
        times = " ".join(f"{s['time_s']:.3f}" for s in train["steps"])
        print(f"\nplan {plan}: trained {train['model']} ({train['strategy']}, global batch {train['global_batch']} x {train['seq_len']}):"
              f" losses {losses}; step times {times} s (the first, with warm-up, is left out of the mean)")
        print(f"  peak memory measured = allocator pool footprint {train['device_peak_bytes'][0]/2**30:.2f} GiB"
              f" + runtime reserved {reserved/2**30:.2f} GiB (context, cuBLAS); tracked tensors "
              f"{train['tracked_peak_bytes_per_rank'][0]['peak_total_bytes']/2**30:.2f} GiB")
    tables.append((plan, rows))
print(f"\n{model}, 1 GPU, global batch {gb}: measured (CUDA executor) vs predicted (shardplan simulate, calibrated profile)")
w = max([len("plan")] + [len(p) for p in plans])
print(f"{'plan':<{w}} {'metric':<12} {'measured':>12} {'predicted':>12} {'error':>8}  {'target':<13} result")
for plan, rows in tables:
    for r in rows:
        print(f"{plan:<{w}} {r[0]:<12} {r[1]:>12} {r[2]:>12} {r[3]:>8}  {r[4]:<13} {r[5]}")
sys.exit(0 if ok else 1)
PY
