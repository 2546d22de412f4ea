#!/usr/bin/env bash
# Serving benchmark on the synthetic TinyLlama-1.1B Q4_0 (docs/PERFORMANCE.md):
#   1. aggregate decode tokens/s at 1, 4, 16 and 64 concurrent streams;
#   2. a shared-long-system-prompt workload: prefix-cache hit rate and TTFT;
#   3. a Poisson run with SLO goodput.
# Results (JSON + HTML) go to ${OUT:-bench/results}.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${TOKENFAB:-build/src/tokenfab}
MODEL=${MODEL:-models/tinyllama-q4_0.gguf}
OUT=${OUT:-bench/results}
PORT=${PORT:-8181}
URL="http://127.0.0.1:$PORT"
mkdir -p "$OUT" "$(dirname "$MODEL")"
[[ -f "$MODEL" ]] || "$B" synth --preset tinyllama-1.1b --type q4_0 -o "$MODEL"

"$B" -t 2 serve -m "$MODEL" --port "$PORT" --ctx-size 2048 --max-num-seqs 64 --max-batch-tokens 512 \
  --served-model-name tinyllama >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
until curl -sf "$URL/health" >/dev/null 2>&1; do sleep 0.5; done
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

PARTS=${PARTS:-"decode prefix sweep poisson"}
has() { [[ " $PARTS " == *" $1 "* ]]; }

if has decode; then
echo "== decode throughput vs concurrency (32-token prompts, 128 output tokens)"
for c in 1 4 16 64; do
  n=$(( c < 8 ? 8 : c ))
  "$B" loadgen --url "$URL" --model tinyllama --concurrency "$c" --num-requests "$n" \
    --input-tokens 32 --output-tokens 128 --no-progress --json "$OUT/decode_c$c.json" | head -2 | tail -1
done
fi

if has prefix; then
echo "== shared 1000-token system prompt, 16 distinct 24-token questions, concurrency 4"
q0=$(metric 'tokenfab_prefix_cache_queries_total{tier="ram"}'); h0=$(metric 'tokenfab_prefix_cache_hits_total{tier="ram"}')
"$B" loadgen --url "$URL" --model tinyllama --concurrency 4 --num-requests 16 --shared-prefix-tokens 1000 \
  --input-tokens 1024 --output-tokens 32 --no-progress --json "$OUT/prefix.json"
q1=$(metric 'tokenfab_prefix_cache_queries_total{tier="ram"}'); h1=$(metric 'tokenfab_prefix_cache_hits_total{tier="ram"}')
echo "prefix cache: $((h1 - h0)) of $((q1 - q0)) prompt tokens served from cache"
echo "== the same workload with every prompt distinct (no shared prefix), for the TTFT comparison"
"$B" loadgen --url "$URL" --model tinyllama --concurrency 4 --num-requests 16 --seed 7 \
  --input-tokens 1024 --output-tokens 32 --no-progress --json "$OUT/noprefix.json"
fi

if has sweep; then
echo "== concurrency sweep 1..32 with the HTML report"
"$B" loadgen --url "$URL" --model tinyllama --sweep concurrency=1,2,4,8,16,32 --duration 20 \
  --input-tokens 64:192 --output-tokens 64:128 --slo-ttft-ms 2000 --slo-tpot-ms 250 --usd-per-hour 0.10 \
  --no-progress --json "$OUT/sweep.json" --html "$OUT/sweep.html"
fi

if has poisson; then
echo "== Poisson arrivals at 0.5 req/s for 60 s, SLO TTFT 1 s / TPOT 200 ms"
"$B" loadgen --url "$URL" --model tinyllama --rate 0.5 --duration 60 --input-tokens 64:192 --output-tokens 64:128 \
  --slo-ttft-ms 1000 --slo-tpot-ms 200 --usd-per-hour 0.10 --no-progress --json "$OUT/poisson.json" --html "$OUT/poisson.html"
fi
