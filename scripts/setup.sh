#!/usr/bin/env bash
# Installs the Debian packages shardplan builds with, only those that are missing.
set -euo pipefail
pkgs=(cmake ninja-build g++ libboost-graph-dev nlohmann-json3-dev libcli11-dev libeigen3-dev libfmt-dev doctest-dev)
# The report's browser test (tests/plan/report_browser_test.sh) needs headless Chromium; only
# installed when asked (CI sets SHARDPLAN_BROWSER_TESTS=1), else that test reports skipped.
if [ "${SHARDPLAN_BROWSER_TESTS:-0}" = 1 ]; then pkgs+=(chromium); fi
# The fuzz targets (scripts/fuzz.sh, which sets this) build with clang and its libFuzzer runtime.
if [ "${SHARDPLAN_FUZZ_TOOLS:-0}" = 1 ]; then pkgs+=(clang libclang-rt-14-dev); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
