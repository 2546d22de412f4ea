#!/usr/bin/env bash
# `make demo`: serve a synthetic TinyLlama-1.1B (Q4_0, random weights, cached
# in models/) on 127.0.0.1:${DEMO_PORT:-8080}, show a curl call and a burst
# of concurrent requests with the tokens/s achieved, then the persistent KV
# store (models/kv-store): a long prompt's time to first token computed cold,
# then again after the server restarted (read back from disk), and keep
# serving until Ctrl-C (which shuts the server down gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENFAB=${TOKENFAB:-build/src/tokenfab}
MODEL=${DEMO_MODEL:-models/demo-tinyllama-1.1b-q4_0.gguf}
PORT=${DEMO_PORT:-8080}
URL="http://127.0.0.1:${PORT}"
STORE=${DEMO_KV_STORE:-models/kv-store}

if [[ ! -f "$MODEL" ]]; then
  mkdir -p "$(dirname "$MODEL")"
  echo "demo: synthesizing $MODEL (once; ~10 s)"
  "$TOKENFAB" synth --preset tinyllama-1.1b --type q4_0 -o "$MODEL"
fi

server=
start_server() {
  "$TOKENFAB" serve -m "$MODEL" --port "$PORT" --served-model-name tinyllama --ctx-size 2048 --max-num-seqs 32 \
    --kv-store "$STORE" --kv-store-gib 2 &
  server=$!
  echo "demo: waiting for the model to load..."
  for _ in $(seq 1 600); do
    if curl -sf "$URL/health" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 $server 2>/dev/null; then echo "demo: the server exited"; exit 1; fi
    sleep 0.2
  done
}
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
start_server

cat <<MSG

== tokenfab is serving tinyllama (random weights: the text is noise, the speed is real) ==

  curl $URL/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"tinyllama","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'

MSG
curl -s "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"tinyllama","messages":[{"role":"user","content":"Hello!"}],"max_tokens":32}'
echo; echo

echo "== a burst of 16 concurrent streaming requests, 64 tokens each =="
"$TOKENFAB" loadgen --url "$URL" --model tinyllama --concurrency 16 --num-requests 16 \
  --input-tokens 32 --output-tokens 64 --no-progress || true

# One request of a long prompt (token ids) and one output token: its time is
# the time to first token. Prints seconds and the prompt tokens served cached.
long_prompt_ttft() {
  curl -s -o /tmp/tokenfab-demo-ttft.json -w '%{time_total}' "$URL/v1/completions" -H 'Content-Type: application/json' -H 'Expect:' \
    -d "{\"model\":\"tinyllama\",\"prompt\":[$PROMPT_IDS],\"max_tokens\":1}"
  printf ' s, cached prompt tokens: %s\n' \
    "$(grep -o '"cached_tokens":[0-9]*' /tmp/tokenfab-demo-ttft.json | cut -d: -f2)"
}
# A prompt no earlier demo run stored.
first_id=$(( 1000 + RANDOM % 20000 ))
PROMPT_IDS=$(seq -s, "$first_id" $(( first_id + 1499 )))

echo
echo "== the persistent KV store ($STORE): time to first token of a 1500-token prompt"
printf '  cold (computed):                 '; long_prompt_ttft
printf '  again (RAM prefix cache):        '; long_prompt_ttft
echo "  restarting the server..."
kill -TERM $server; wait $server || true
start_server
printf '  after the restart (from disk):   '; long_prompt_ttft

echo
echo "Serving at $URL (OpenAI API: /v1/chat/completions, /v1/completions, /v1/models, /health, /metrics). Ctrl-C stops."
wait $server
