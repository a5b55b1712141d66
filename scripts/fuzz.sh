#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan, and runs each for N
# seconds (default 60) from its seed corpus. A crash, sanitizer report, leak, timeout or
# out-of-memory is a finding: the input is kept in $BUILD/fuzz-artifacts and the script fails.
# Usage: scripts/fuzz.sh [seconds] [target...]      (targets: model_spec model gpu cluster
#        validation strategy plan; default all). BUILD (default build-fuzz), JOBS as in the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(model_spec model gpu cluster validation strategy plan)
BUILD=${BUILD:-build-fuzz}
JOBS=${JOBS:-$(nproc)}
CXX_CLANG=${CXX_CLANG:-clang++}
SHARDPLAN_FUZZ_TOOLS=1 scripts/setup.sh
command -v "$CXX_CLANG" >/dev/null || { echo "fuzz: $CXX_CLANG not found (scripts/setup.sh installs clang)"; exit 1; }

cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$CXX_CLANG" -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g" -DSHARDPLAN_FUZZ=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$BUILD/fuzz-artifacts"
failed=()
for t in "${targets[@]}"; do
  work="$BUILD/fuzz-corpus/$t"  # grows run to run; the committed seeds stay as they are
  mkdir -p "$work"
  dict=tests/fuzz/json.dict
  [ "$t" = strategy ] && dict=tests/fuzz/strategy.dict
  echo "fuzz: $t for ${seconds}s"
  if ! "$BUILD/tests/fuzz/fuzz_$t" "$work" "tests/fuzz/corpus/$t" -dict="$dict" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$BUILD/fuzz-artifacts/$t-" -print_final_stats=1 >"$BUILD/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    echo "fuzz: $t FAILED; log $BUILD/fuzz-$t.log, input in $BUILD/fuzz-artifacts/"
    grep -m 5 -E "ERROR|SUMMARY|runtime error|fuzz check failed|deadly signal" "$BUILD/fuzz-$t.log" || true
  else
    grep -E "stat::number_of_executed_units|cov:" "$BUILD/fuzz-$t.log" | tail -2 | sed 's/^/  /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each, no findings"
