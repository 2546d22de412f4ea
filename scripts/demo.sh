#!/usr/bin/env bash
# `make demo`: serve a synthetic TinyLlama-1.1B (Q4_0, random weights, cached
# in models/) on 127.0.0.1:${DEMO_PORT:-8080}, show a curl call and a burst
# of concurrent requests with the tokens/s achieved, then keep serving until
# Ctrl-C (which shuts the server down gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENFAB=${TOKENFAB:-build/src/tokenfab}
MODEL=${DEMO_MODEL:-models/demo-tinyllama-1.1b-q4_0.gguf}
PORT=${DEMO_PORT:-8080}
URL="http://127.0.0.1:${PORT}"

if [[ ! -f "$MODEL" ]]; then
  mkdir -p "$(dirname "$MODEL")"
  echo "demo: synthesizing $MODEL (once; ~10 s)"
  "$TOKENFAB" synth --preset tinyllama-1.1b --type q4_0 -o "$MODEL"
fi

"$TOKENFAB" serve -m "$MODEL" --port "$PORT" --served-model-name tinyllama --ctx-size 2048 --max-num-seqs 32 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server' INT TERM
echo "demo: waiting for the model to load..."
for _ in $(seq 1 600); do
  if curl -sf "$URL/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 $server 2>/dev/null; then echo "demo: the server exited"; exit 1; fi
  sleep 0.2
done

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

echo
echo "Serving at $URL (OpenAI API: /v1/chat/completions, /v1/completions, /v1/models, /health, /metrics). Ctrl-C stops."
wait $server
