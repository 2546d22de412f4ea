#!/usr/bin/env bash
# Time to first token of one long prompt three ways: computed (cold), from
# the RAM prefix cache, and from the KV store after a server restart with
# the store's files dropped from the page cache; then one decode step, the
# KV bytes per token, and fio's read bandwidth at the store's own pattern
# (one block file at a time, buffered, queue depth 1, page cache dropped:
# the store itself also asks for readahead 16 files ahead, so it can beat this).
# Usage: [SETTLE_S=seconds after the restart] bench/kv_store_ttft.sh MODEL.gguf [PROMPT_TOKENS=2000] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1
N=${2:-2000}
OUT=${3:-bench/results/kv_store_$(basename "$MODEL" .gguf)}
B=${TOKENFAB:-build/src/tokenfab}
PORT=${PORT:-8093}
URL="http://127.0.0.1:$PORT"
STORE="$OUT/store"
mkdir -p "$OUT"
rm -rf "$STORE"
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
server=
start() {
  "$B" serve -m "$MODEL" --port "$PORT" --served-model-name m --ctx-size $((N + 256)) --kv-store "$STORE" \
    --kv-store-gib 40 2>>"$OUT/serve.log" &
  server=$!
  for _ in $(seq 1 3000); do curl -sf "$URL/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "server did not come up"; exit 1
}
stop() { kill -TERM "$server"; wait "$server" || true; }
trap 'kill -9 $server 2>/dev/null || true' EXIT
first=${FIRST_TOKEN:-$(( 1000 + RANDOM % 10000 ))}  # a prompt no earlier run stored
ids=$(seq -s, "$first" $(( first + N - 1 )))
# Seconds for one request of the prompt and `max_tokens` output tokens.
ask() {
  # Expect: off, or curl waits for a 100 Continue on bodies over 1 KiB.
  curl -s -o "$OUT/last.json" -w '%{time_total}' "$URL/v1/completions" -H 'Content-Type: application/json' -H 'Expect:' \
    -d "{\"model\":\"m\",\"prompt\":[$ids],\"max_tokens\":$1,\"ignore_eos\":true,\"temperature\":0}"
}
cached() { grep -o '"cached_tokens":[0-9]*' "$OUT/last.json" | cut -d: -f2; }

start
cold=$(ask 1); cold_cached=$(cached)
ram=$(ask 1); ram_cached=$(cached)
stop
sync
python3 - "$STORE" <<'PY'
import os, sys
for name in os.listdir(sys.argv[1]):
    fd = os.open(os.path.join(sys.argv[1], name), os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
start
sleep "${SETTLE_S:-0}"  # optional: let the start-up's own I/O finish first
store=$(ask 1); store_cached=$(cached)
load_s=$(metric tokenfab_kv_store_load_seconds_sum)
read_bytes=$(metric tokenfab_kv_store_read_bytes_total)
read_s=$(metric tokenfab_kv_store_load_read_seconds_total)
import_s=$(metric tokenfab_kv_store_load_import_seconds_total)
t33=$(ask 33)
# fio while the server is resident: its memory is what the page cache has
# to work with when the store reads (V2-Lite's 9 GB halve fio's bandwidth).
file_bytes=$(stat -c %s "$STORE/$(ls "$STORE" | head -1)")
blocks=$(( (N - 1) / 16 ))
fio --name=store-pattern --directory="$OUT" --rw=read --ioengine=psync --iodepth=1 --direct=0 --invalidate=1 \
  --bs="$file_bytes" --filesize="$file_bytes" --nrfiles="$blocks" --openfiles=1 --file_service_type=sequential \
  --output-format=json >"$OUT/fio.json"
rm -f "$OUT"/store-pattern.*
stop
files=$(ls "$STORE" | wc -l)
dev=$(df --output=source "$STORE" | tail -1)
fio_bw=$(python3 -c "import json,sys; j=json.load(open('$OUT/fio.json')); print(j['jobs'][0]['read']['bw_bytes'])")
python3 - <<PY | tee "$OUT/summary.txt"
cold, ram, store, t33 = $cold, $ram, $store, $t33
decode = (t33 - ram) / 32
bw = $fio_bw
read_bytes = $read_bytes
bound = read_bytes / (0.7 * bw) + decode
print(f"model {'$MODEL'}, {$N}-token prompt, block files of {$file_bytes} bytes on {'$dev'} ({$files} files)")
print(f"KV bytes per token (store file bytes / 16): {$file_bytes / 16:.0f}")
print(f"TTFT cold {cold:.3f} s (cached {$cold_cached}), RAM {ram:.3f} s (cached {$ram_cached}), "
      f"store after restart {store:.3f} s (cached {$store_cached}; load {$load_s:.3f} s for {read_bytes/1e6:.1f} MB)")
print(f"load = read+verify {$read_s:.3f} s ({read_bytes / $read_s / 1e6:.0f} MB/s) + import into the pool {$import_s:.3f} s")
print(f"store speed-up over computing: {cold / store:.1f}x; decode step {decode * 1000:.1f} ms")
print(f"fio at the store pattern (server resident): {bw / 1e6:.0f} MB/s; bound bytes/(0.7 x bw) + one decode step = {bound:.3f} s; "
      f"store TTFT is {store / bound:.2f} of it")
PY
