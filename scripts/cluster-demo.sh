#!/usr/bin/env bash
# A cluster on loopback: a real etcd, two `tokenfab serve` workers on the
# synthetic TinyLlama-1.1B (Q4_0, random weights, cached in models/) that
# register in it, and `tokenfab router` in front of them. Runs a loadgen
# sweep against the router, SIGKILLs a worker in the middle of it, and shows
# that every request completed (the router moved the interrupted streams to
# the other worker). Run after `make build`. Everything stops at the end.
#
# `scripts/cluster-demo.sh disagg`: worker 0 is a prefill worker and worker
# 1 a decode worker (prefill/decode disaggregation, KV moved over TCP); the
# prefill worker is killed mid-run and the decode worker prefills the rest
# itself, so again every request completes.
set -euo pipefail
MODE=${1:-aggregated}
if [[ $MODE != aggregated && $MODE != disagg ]]; then echo "usage: $0 [aggregated|disagg]"; exit 2; fi
cd "$(dirname "$0")/.."
TOKENFAB=${TOKENFAB:-build/src/tokenfab}
MODEL=${DEMO_MODEL:-models/demo-tinyllama-1.1b-q4_0.gguf}
ROUTER_PORT=${ROUTER_PORT:-8180}
WORKER_PORTS=(${WORKER_PORTS:-8181 8182})
ETCD_PORT=${ETCD_PORT:-23791}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23792}
SWEEP=${SWEEP:-concurrency=2,4,8}
REQUESTS=${REQUESTS:-24}
KILL_AFTER_S=${KILL_AFTER_S:-8}
ETCD_URL="http://127.0.0.1:${ETCD_PORT}"
ROUTER_URL="http://127.0.0.1:${ROUTER_PORT}"
work=$(mktemp -d /tmp/tokenfab-cluster-demo.XXXXXX)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if ! command -v etcd >/dev/null; then echo "cluster-demo: etcd is missing (scripts/install-deps.sh installs it)"; exit 1; fi
if [[ ! -x "$TOKENFAB" ]]; then echo "cluster-demo: $TOKENFAB is missing (run make build)"; exit 1; fi
if [[ ! -f "$MODEL" ]]; then
  mkdir -p "$(dirname "$MODEL")"
  echo "cluster-demo: synthesizing $MODEL (once; ~10 s)"
  "$TOKENFAB" synth --preset tinyllama-1.1b --type q4_0 -o "$MODEL"
fi

wait_for() {  # what, command...
  local what=$1; shift
  for _ in $(seq 1 600); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "cluster-demo: $what did not come up; logs in $work"; tail -5 "$work"/*.log; exit 1
}

echo "== etcd on $ETCD_URL"
etcd --data-dir "$work/etcd" --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster "default=http://127.0.0.1:${ETCD_PEER_PORT}" --log-level warn >"$work/etcd.log" 2>&1 &
pids+=($!)
wait_for etcd curl -sf -X POST -d '{"key":"AA=="}' "$ETCD_URL/v3/kv/range"

worker_pids=()
roles=(both both)
router_extra=()
if [[ $MODE == disagg ]]; then roles=(prefill decode); router_extra=(--disagg-min-tokens 32); fi
for i in "${!WORKER_PORTS[@]}"; do
  port=${WORKER_PORTS[$i]}
  echo "== worker $i (role ${roles[$i]}) on 127.0.0.1:$port"
  "$TOKENFAB" -t 1 serve -m "$MODEL" --port "$port" --served-model-name tinyllama --ctx-size 2048 --max-num-seqs 16 \
    --etcd "$ETCD_URL" --lease-ttl 3 --role "${roles[$i]}" >"$work/worker$i.log" 2>&1 &
  pids+=($!)
  worker_pids+=($!)
done
echo "== router on $ROUTER_URL"
"$TOKENFAB" router -m "$MODEL" --served-model-name tinyllama --etcd "$ETCD_URL" --port "$ROUTER_PORT" \
  >"$work/router.log" 2>&1 &
pids+=($!)
routed_workers() { curl -s "$ROUTER_URL/metrics" | awk '/^tokenfab_router_workers /{print $2}'; }
wait_for "two workers behind the router" bash -c "[[ \$(curl -s $ROUTER_URL/metrics | awk '/^tokenfab_router_workers /{print \$2}') == 2 ]]"
echo "   the router routes to $(routed_workers) workers"

victim=1
if [[ $MODE == disagg ]]; then victim=0; fi  # the prefill worker
echo "== loadgen sweep $SWEEP ($REQUESTS requests each) against the router; worker $victim is killed after ${KILL_AFTER_S} s"
( sleep "$KILL_AFTER_S"; echo "   >>> SIGKILL worker $victim (pid ${worker_pids[$victim]})"; kill -9 "${worker_pids[$victim]}" ) &
killer=$!
"$TOKENFAB" loadgen --url "$ROUTER_URL" --model tinyllama --sweep "$SWEEP" --num-requests "$REQUESTS" \
  --input-tokens 64 --output-tokens 96 --no-progress --json "$work/loadgen.json"
wait "$killer" 2>/dev/null || true

python3 - "$work/loadgen.json" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
total = sum(len(r["requests"]) for r in runs)
failed = [q for r in runs for q in r["requests"] if q.get("error")]
print(f"== {total} requests over {len(runs)} runs: {total - len(failed)} completed, {len(failed)} failed")
for q in failed[:5]:
    print("   failed:", q.get("error"), q.get("error_detail", "")[:200])
sys.exit(1 if failed else 0)
PY
echo "   router: $(curl -s "$ROUTER_URL/metrics" | awk '/^tokenfab_router_migrations_total /{print $2}') streams moved to the other worker, $(routed_workers) worker left"
if [[ $MODE == disagg ]]; then
  m=$(curl -s "$ROUTER_URL/metrics")
  echo "   prompts: $(awk '/path="disaggregated"/{print $2}' <<<"$m") prefilled by the prefill worker, $(awk '/path="local_prefill"/{print $2}' <<<"$m") by the decode worker by the rule, $(awk '/path="fallback"/{print $2}' <<<"$m") after the prefill worker died"
  echo "   decode worker: $(curl -s "http://127.0.0.1:${WORKER_PORTS[1]}/metrics" | awk '/^tokenfab_kv_transfer_received_bytes_total /{printf "%.1f MB", $2/1e6}') of KV received, $(curl -s "http://127.0.0.1:${WORKER_PORTS[1]}/metrics" | awk '/^tokenfab_kv_transfer_fallbacks_total /{print $2}') transfers cut short and computed locally"
fi
echo "== every request completed"
