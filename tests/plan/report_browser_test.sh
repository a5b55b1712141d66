#!/usr/bin/env bash
# Renders a `shardplan report` page in headless Chromium and checks that the browser logs no
# console message or failed load, that the DOM holds the three figures, and that the screenshot
# is not blank (much larger than the screenshot of an empty page of the same size).
# Usage: report_browser_test.sh SHARDPLAN_BINARY SOURCE_DIR. Exit 77 (skipped) without Chromium,
# unless SHARDPLAN_BROWSER_TESTS=1, which makes a missing browser a failure.
set -euo pipefail
bin=$1
src=$2
chrome=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chrome" ]; then
  if [ "${SHARDPLAN_BROWSER_TESTS:-0}" = 1 ]; then
    echo "FAIL: SHARDPLAN_BROWSER_TESTS=1 but there is no $chrome (scripts/setup.sh installs it)"
    exit 1
  fi
  echo "SKIP: no $chrome"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin" report --model "$src/models/llama3-8b.json" --cluster dgx-h100 --gpus 64 --global-batch 256 \
  --pp 1,2,4 --threads 2 -o "$dir/report.html"
printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' \
  > "$dir/blank.html"

# Chromium prints page console messages as "CONSOLE(line)" log lines with --enable-logging.
render() {  # render NAME ARGS...
  local name=$1
  shift
  timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$dir/profile-$name" \
    --enable-logging=stderr --v=0 --window-size=1200,2400 "$@" 2> "$dir/$name.log"
}
render shot --screenshot="$dir/report.png" "file://$dir/report.html" || { cat "$dir/shot.log"; fail "screenshot"; }
render dom --dump-dom "file://$dir/report.html" > "$dir/dom.html" || { cat "$dir/dom.log"; fail "dump-dom"; }
render blank --screenshot="$dir/blank.png" "file://$dir/blank.html" || { cat "$dir/blank.log"; fail "blank"; }

if grep -E "CONSOLE|Uncaught|Failed to load|net::ERR_" "$dir/shot.log" "$dir/dom.log"; then
  fail "the browser logged console messages or failed loads (above)"
fi
figures=$(grep -o "<svg" "$dir/dom.html" | wc -l)
[ "$figures" -ge 3 ] || fail "expected at least 3 figures in the DOM, found $figures"
grep -q "Pareto front" "$dir/dom.html" || fail "no Pareto section in the DOM"
[ "$(head -c 4 "$dir/report.png" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "the screenshot is not a PNG"
shot=$(stat -c %s "$dir/report.png")
blank=$(stat -c %s "$dir/blank.png")
echo "screenshot $shot bytes, empty page $blank bytes, $figures figures"
[ "$shot" -gt $((blank * 5)) ] || fail "the screenshot looks blank ($shot bytes, an empty page is $blank)"
echo "PASS"
