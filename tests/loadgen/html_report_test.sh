#!/usr/bin/env bash
# The HTML report in headless Chromium: serves a fixture model, runs a short
# loadgen sweep with --html, then checks that the page loads without console
# errors and draws all six charts, and takes a screenshot.
# Usage: html_report_test.sh TOKENFAB MODEL OUT_DIR
set -euo pipefail
tokenfab=$1 model=$2 out=$3
mkdir -p "$out"
log="$out/serve.log"
"$tokenfab" -t 2 serve -m "$model" --port 0 --ctx-size 512 >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 1 300); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  if [[ -n "$port" ]] && curl -sf "http://127.0.0.1:$port/health" >/dev/null; then break; fi
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start"; cat "$log"; exit 1; }

"$tokenfab" loadgen --url "http://127.0.0.1:$port" --sweep concurrency=1,2,4 --num-requests 8 \
  --input-tokens 16:32 --output-tokens 8 --slo-ttft-ms 500 --no-progress \
  --json "$out/report.json" --html "$out/report.html"

browser=$(command -v chromium || command -v chromium-browser)
flags=(--headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1500)
dom=$("$browser" "${flags[@]}" --dump-dom "file://$out/report.html" 2>/dev/null)
"$browser" "${flags[@]}" --enable-logging=stderr --v=0 --screenshot="$out/report.png" \
  "file://$out/report.html" 2>"$out/chromium.log" >/dev/null

body=$(grep -o '<body[^>]*>' <<<"$dom")
echo "rendered body tag: $body"
if grep -q 'data-error' <<<"$body"; then echo "FAIL: the page reported a script error"; exit 1; fi
if ! grep -q 'data-charts="6"' <<<"$body"; then echo "FAIL: the charts were not all drawn"; exit 1; fi
if [[ $(grep -o '<svg' <<<"$dom" | wc -l) -lt 6 ]]; then echo "FAIL: fewer than 6 SVG charts in the DOM"; exit 1; fi
if grep -E 'CONSOLE|Uncaught' "$out/chromium.log"; then echo "FAIL: console errors (above)"; exit 1; fi
size=$(stat -c %s "$out/report.png")
if [[ $size -lt 20000 ]]; then echo "FAIL: screenshot is only $size bytes"; exit 1; fi
echo "screenshot: $out/report.png ($size bytes); report: $out/report.html"
