#!/usr/bin/env python3
"""Measurements of tokenfab's cluster leg (docs/PERFORMANCE.md, "Router").

  hit-rate   prefix-cache hit rate through the router on a multi-tenant
             workload (8 distinct system prompts of 1,000 tokens, short user
             turns) with 3 workers in kv and round-robin mode, against one
             worker with the three workers' KV memory together.
  overhead   TTFT and inter-token latency p50/p99, a worker called directly
             against the same worker through the router (loadgen).
  migration  how long a client's stream stalls when its worker is SIGKILLed
             (20 kills), and how many requests are lost.
  disagg     prefill/decode disaggregation on a 2-core machine, each worker
             pinned to its own core (taskset): short chats (128 in, 64 out)
             at the highest concurrency one core holds under the TPOT SLO
             alone, plus one 1,000-token prompt every 20 s; (a) two
             aggregated workers behind the router, (b) one prefill + one
             decode worker. --rounds N alternates (a) and (b) N times and
             reports medians. Use --model with the tinyllama-1.1b Q4_0 synth.

Usage: bench/cluster_bench.py [hit-rate|overhead|migration|disagg|all] [--tokenfab BIN]
       [--model GGUF] [--json OUT]
Starts etcd, workers and routers itself on free loopback ports.
"""
import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "fixtures", "models", "tiny-llama-spm-q8_0.gguf")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Cluster:
    def __init__(self, tokenfab, model, work):
        self.tokenfab, self.model, self.work = tokenfab, model, work
        self.procs = []
        self.workers = []  # (port, Popen, args)
        self.etcd_port = free_port()
        peer = free_port()
        url = f"http://127.0.0.1:{self.etcd_port}"
        self.etcd_url = url
        self._start(["etcd", "--data-dir", os.path.join(work, f"etcd{self.etcd_port}"), "--listen-client-urls", url,
                     "--advertise-client-urls", url, "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                     "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                     "--initial-cluster", f"default=http://127.0.0.1:{peer}", "--log-level", "warn"], "etcd")
        wait(lambda: post_status(self.etcd_port, "/v3/kv/range", '{"key":"AA=="}') == 200, "etcd")

    def _start(self, args, name):
        log = open(os.path.join(self.work, f"{name}-{len(self.procs)}.log"), "w")
        p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def add_worker(self, extra=(), register=True, cpu=None):
        port = free_port()
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        args = [*pin, self.tokenfab, "-t", "1", "serve", "-m", self.model, "--port", str(port), "--served-model-name", "m",
                "--ctx-size", "2048", "--lease-ttl", "2", *extra]
        if register:
            args += ["--etcd", self.etcd_url]
        p = self._start(args, f"worker{port}")
        self.workers.append([port, p, args])
        wait(lambda: get_status(port, "/health") == 200, f"worker {port}")
        return len(self.workers) - 1

    def restart_worker(self, i):
        port, p, args = self.workers[i]
        p.kill()
        p.wait()
        self.workers[i][1] = self._start(args, f"worker{port}")
        wait(lambda: get_status(port, "/health") == 200, f"worker {port}")

    def start_router(self, mode, extra=()):
        self.router_port = free_port()
        self._start([self.tokenfab, "router", "-m", self.model, "--served-model-name", "m", "--etcd", self.etcd_url,
                     "--port", str(self.router_port), "--router-mode", mode, *extra], "router")
        n = len(self.workers)
        wait(lambda: f"tokenfab_router_workers {n}\n" in get_body(self.router_port, "/metrics"), "router")
        return self.router_port

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()


def wait(check, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up")


def get_status(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    return c.getresponse().status


def get_body(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path)
    return c.getresponse().read().decode()


def post_status(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", path, body)
    return c.getresponse().status


def complete(port, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    return json.loads(c.getresponse().read())


def stream(port, body, on_event=None):
    """Streams a completion; returns (text, usage, error, event times)."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    text, usage, error, times, n = "", None, None, [], 0
    for raw in r:
        line = raw.decode().strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        j = json.loads(line[6:])
        if "error" in j:
            error = j["error"].get("message")
        if j.get("usage"):
            usage = j["usage"]
        for ch in j.get("choices", []):
            if ch.get("text"):
                text += ch["text"]
                n += 1
                times.append(time.monotonic())
                if on_event:
                    on_event(n)
    return text, usage, error, times


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def tenant_workload(seed=1, tenants=8, system_tokens=1000, turns=12):
    rng = random.Random(seed)
    systems = [[100 + rng.randrange(20000) for _ in range(system_tokens)] for _ in range(tenants)]
    requests = []
    for t in range(tenants):
        for _ in range(turns):
            requests.append(systems[t] + [100 + rng.randrange(20000) for _ in range(rng.randrange(10, 40))])
    rng.shuffle(requests)
    return requests


def hit_rate(args, work):
    requests = tenant_workload()
    # Each worker holds about three tenants' system prompts; the single
    # worker gets the three workers' KV memory together.
    kv_gib = args.kv_gib_per_worker
    results = {}
    for label, mode, n_workers, gib in [("kv", "kv", 3, kv_gib), ("round-robin", "round-robin", 3, kv_gib),
                                        ("single", None, 1, 3 * kv_gib)]:
        c = Cluster(args.tokenfab, args.model, work)
        try:
            for _ in range(n_workers):
                c.add_worker(["--kv-cache-gib", str(gib)], register=mode is not None)
            port = c.start_router(mode) if mode else c.workers[0][0]
            cached = prompt = 0
            for ids in requests:
                r = complete(port, {"model": "m", "prompt": ids, "max_tokens": 4, "temperature": 0})
                cached += r["usage"]["prompt_tokens_details"]["cached_tokens"]
                prompt += r["usage"]["prompt_tokens"]
                time.sleep(0.02)  # lets the KV events of this request reach the router
            results[label] = cached / prompt
            print(f"hit-rate {label:12s} {cached}/{prompt} = {100 * cached / prompt:.1f}%", flush=True)
        finally:
            c.close()
    results["kv_vs_single"] = results["kv"] / results["single"]
    return results


def loadgen(args, port, out, seed):
    # A seed per run: no run is served from the prefix cache of an earlier one.
    subprocess.run([args.tokenfab, "loadgen", "--url", f"http://127.0.0.1:{port}", "--model", "m", "--seed", str(seed),
                    "--concurrency",
                    str(args.overhead_concurrency), "--num-requests", str(args.overhead_requests), "--input-tokens", "64",
                    "--output-tokens", "64", "--no-progress", "--json", out], check=True, stdout=subprocess.DEVNULL)
    run = json.load(open(out))["runs"][0]
    ttft = [r["ttft_s"] * 1000 for r in run["requests"] if not r.get("error")]
    itl = [gap * 1000 for r in run["requests"] for gap in r.get("itl_s", [])]
    return {"ttft_p50": percentile(ttft, 50), "ttft_p99": percentile(ttft, 99), "itl_p50": percentile(itl, 50),
            "itl_p99": percentile(itl, 99), "errors": sum(1 for r in run["requests"] if r.get("error"))}


def overhead(args, work):
    c = Cluster(args.tokenfab, args.model, work)
    try:
        c.add_worker()
        router = c.start_router("kv")
        worker = c.workers[0][0]
        rounds = {"direct": [], "router": []}
        for i in range(3):  # interleaved rounds
            rounds["direct"].append(loadgen(args, worker, os.path.join(work, "direct.json"), 100 + 2 * i))
            rounds["router"].append(loadgen(args, router, os.path.join(work, "router.json"), 101 + 2 * i))
        out = {}
        for label, runs in rounds.items():
            out[label] = {k: sorted(r[k] for r in runs)[1] for k in runs[0]}  # median of 3
        out["added"] = {k: out["router"][k] - out["direct"][k] for k in ("ttft_p50", "ttft_p99", "itl_p50", "itl_p99")}
        for label in ("direct", "router", "added"):
            print(f"overhead {label:7s} " + " ".join(f"{k}={v:.2f}" for k, v in out[label].items()), flush=True)
        return out
    finally:
        c.close()


def migration(args, work):
    c = Cluster(args.tokenfab, args.model, work)
    try:
        for _ in range(2):
            c.add_worker()
        router = c.start_router("least-loaded")
        body = {"model": "m", "prompt": "Once upon a time", "max_tokens": args.migration_tokens, "temperature": 0,
                "ignore_eos": True}
        ref_text, _, _, ref_times = stream(router, body)
        normal_gaps = [b - a for a, b in zip(ref_times, ref_times[1:])]
        stalls, lost, mismatched = [], 0, 0
        rng = random.Random(7)
        for k in range(args.kills):
            cut = rng.randrange(5, args.migration_tokens - 20)
            state = {}

            def on_event(n):
                if n == cut and "killed" not in state:
                    for i, (port, p, _) in enumerate(c.workers):
                        if "tokenfab_requests_running 1" in get_body(port, "/metrics"):
                            p.send_signal(signal.SIGKILL)
                            state["killed"] = i
                            state["at"] = time.monotonic()
                            break

            text, usage, error, times = stream(router, body, on_event)
            if error or usage is None or usage["completion_tokens"] != args.migration_tokens:
                lost += 1
            if text != ref_text:
                mismatched += 1
            if "killed" in state:
                after = [t for t in times if t > state["at"]]
                before = [t for t in times if t <= state["at"]]
                if after and before:
                    stalls.append((after[0] - before[-1]) * 1000)
                c.restart_worker(state["killed"])
                wait(lambda: "tokenfab_router_workers 2\n" in get_body(router, "/metrics"), "worker back")
            print(f"migration kill {k + 1}/{args.kills} at token {cut}: stall {stalls[-1] if stalls else float('nan'):.0f} ms,"
                  f" {'lost' if error else 'ok'}{'' if text == ref_text else ', TEXT DIFFERS'}", flush=True)
        out = {"kills": args.kills, "stall_ms_p50": percentile(stalls, 50), "stall_ms_p99": percentile(stalls, 99),
               "stall_ms_max": max(stalls) if stalls else None, "normal_itl_ms_p50": 1000 * percentile(normal_gaps, 50),
               "lost": lost, "text_mismatches": mismatched}
        print("migration " + json.dumps(out), flush=True)
        return out
    finally:
        c.close()


def run_chats(args, port, concurrency, out, seed, duration, long_every_s=None):
    """Closed-loop short chats through loadgen; optionally one long prompt every
    `long_every_s` from a thread of its own. Returns the loadgen summary and
    the long prompts' TTFTs."""
    import threading
    long_ttft = []
    stop = threading.Event()

    def long_prompts():
        rng = random.Random(seed)
        t0 = time.time()
        k = 0
        while not stop.is_set():
            at = t0 + 5 + k * long_every_s
            if at > t0 + duration:
                return
            while time.time() < at and not stop.is_set():
                time.sleep(0.05)
            ids = [100 + rng.randrange(20000) for _ in range(1000)]
            start = time.monotonic()
            _, _, _, times = stream(port, {"model": "m", "prompt": ids, "max_tokens": 16, "temperature": 0,
                                           "ignore_eos": True})
            if times:
                long_ttft.append((times[0] - start) * 1000)
            k += 1

    thread = None
    if long_every_s:
        thread = threading.Thread(target=long_prompts, daemon=True)
        thread.start()
    subprocess.run([args.tokenfab, "loadgen", "--url", f"http://127.0.0.1:{port}", "--model", "m", "--seed", str(seed),
                    "--concurrency", str(concurrency), "--duration", str(duration), "--input-tokens", "128",
                    "--output-tokens", "64", "--slo-tpot-ms", str(args.slo_tpot_ms), "--slo-ttft-ms", "10000000",
                    "--no-progress", "--json", out], check=True, stdout=subprocess.DEVNULL)
    stop.set()
    if thread:
        thread.join()
    s = json.load(open(out))["runs"][0]["summary"]
    return {"tpot_p50_ms": s["tpot_s"]["p50"] * 1000, "tpot_p99_ms": s["tpot_s"]["p99"] * 1000,
            "ttft_p50_ms": s["ttft_s"]["p50"] * 1000, "ttft_p99_ms": s["ttft_s"]["p99"] * 1000,
            "goodput_req_s": s["goodput_req_s"], "goodput_fraction": s["goodput_fraction"],
            "output_tok_s": s["output_tok_s"], "long_ttft_ms": long_ttft}


def disagg(args, work):
    results = {}
    # The highest concurrency one core holds under the TPOT SLO doing nothing else.
    c = Cluster(args.tokenfab, args.model, work)
    try:
        c.add_worker(["--max-num-seqs", "32"], register=False, cpu=1)
        capacity = 1
        sweep = {}
        for conc in ((1, 2, 3, 4, 6, 8) if args.capacity == 0 else ()):
            r = run_chats(args, c.workers[0][0], conc, os.path.join(work, f"cap{conc}.json"), 300 + conc, 30)
            sweep[conc] = r
            print(f"disagg capacity c={conc}: TPOT p50 {r['tpot_p50_ms']:.0f} p99 {r['tpot_p99_ms']:.0f} ms", flush=True)
            # "Holds": the median request meets the SLO (p99 is what the
            # comparison below is about).
            if r["tpot_p50_ms"] > args.slo_tpot_ms:
                break
            capacity = conc
        if args.capacity > 0:
            capacity = args.capacity  # given: no sweep
        results["one_core_capacity"] = capacity
        results["capacity_sweep"] = sweep
    finally:
        c.close()
    configs = [("aggregated", ("both", "both"), []),
               ("disaggregated", ("prefill", "decode"),
                ["--disagg-min-tokens", str(args.disagg_min_tokens), "--max-prefill-queue", str(args.max_prefill_queue)])]
    # Rounds alternate (a) and (b) so drift in the machine's speed hits both.
    rounds = {label: [] for label, _, _ in configs}
    for k in range(args.rounds):
        for label, roles, extra in configs:
            r = run_config(args, work, capacity, roles, extra, f"{label}{k}", 700 + k)
            rounds[label].append(r)
            print(f"disagg round {k + 1}/{args.rounds} {label}: " + json.dumps(r), flush=True)
    for label, runs in rounds.items():
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0] if key not in ("paths", "long_ttft_ms")}
        med["long_ttft_ms"] = [t for r in runs for t in r["long_ttft_ms"]]
        med["paths"] = [r["paths"] for r in runs]
        results[label] = {"median": med, "rounds": runs}
    a, b = results["aggregated"]["median"], results["disaggregated"]["median"]
    results["tpot_p99_ratio"] = a["tpot_p99_ms"] / b["tpot_p99_ms"] if b["tpot_p99_ms"] > 0 else float("nan")
    results["goodput_ratio"] = b["goodput_req_s"] / a["goodput_req_s"] if a["goodput_req_s"] > 0 else float("nan")
    return results


def run_config(args, work, capacity, roles, extra, label, seed):
    c = Cluster(args.tokenfab, args.model, work)
    try:
        for cpu, role in enumerate(roles):
            flags = ["--role", role, "--max-num-seqs", "32"]
            if role == "prefill" and args.prefill_batch_tokens > 0:
                flags += ["--max-batch-tokens", str(args.prefill_batch_tokens)]
            if role == "decode" and args.decode_prefill_chunk >= 0:
                flags += ["--prefill-chunk-beside-decodes", str(args.decode_prefill_chunk)]
            c.add_worker(flags, cpu=cpu)
        port = c.start_router("kv", extra)
        r = run_chats(args, port, capacity, os.path.join(work, f"{label}.json"), seed, args.disagg_duration, 20)
        r["paths"] = {p: metric(get_body(port, "/metrics"), f'tokenfab_router_requests_total{{path="{p}"}}')
                      for p in ("disaggregated", "local_prefill", "fallback")}
        return r
    finally:
        c.close()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["hit-rate", "overhead", "migration", "disagg", "all"])
    ap.add_argument("--tokenfab", default="build/src/tokenfab")
    ap.add_argument("--model", default=FIXTURE)
    ap.add_argument("--kv-gib-per-worker", type=float, default=0.0065)
    ap.add_argument("--overhead-requests", type=int, default=16)
    ap.add_argument("--overhead-concurrency", type=int, default=1)
    ap.add_argument("--migration-tokens", type=int, default=400)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--slo-tpot-ms", type=float, default=150)
    ap.add_argument("--disagg-duration", type=float, default=60)
    ap.add_argument("--disagg-min-tokens", type=int, default=256)
    ap.add_argument("--max-prefill-queue", type=int, default=8)
    ap.add_argument("--prefill-batch-tokens", type=int, default=0,
                    help="disagg: --max-batch-tokens of the prefill worker (0: the server's default)")
    ap.add_argument("--decode-prefill-chunk", type=int, default=-1,
                    help="disagg: --prefill-chunk-beside-decodes of the decode worker (-1: the server's default)")
    ap.add_argument("--rounds", type=int, default=3, help="disagg: alternating rounds of (a) and (b); medians reported")
    ap.add_argument("--capacity", type=int, default=0, help="disagg: concurrency to use (0: find it)")
    ap.add_argument("--json")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tokenfab-cluster-bench-")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    results = {"cpu": cpu,
               "model": os.path.basename(args.model)}
    try:
        if args.what in ("hit-rate", "all"):
            results["hit_rate"] = hit_rate(args, work)
        if args.what in ("overhead", "all"):
            results["overhead"] = overhead(args, work)
        if args.what in ("migration", "all"):
            results["migration"] = migration(args, work)
        if args.what == "disagg":
            results["disagg"] = disagg(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
