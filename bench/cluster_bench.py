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

Usage: bench/cluster_bench.py [hit-rate|overhead|migration|all] [--tokenfab BIN]
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

    def add_worker(self, extra=(), register=True):
        port = free_port()
        args = [self.tokenfab, "-t", "1", "serve", "-m", self.model, "--port", str(port), "--served-model-name", "m",
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

    def start_router(self, mode):
        self.router_port = free_port()
        self._start([self.tokenfab, "router", "-m", self.model, "--served-model-name", "m", "--etcd", self.etcd_url,
                     "--port", str(self.router_port), "--router-mode", mode], "router")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all", choices=["hit-rate", "overhead", "migration", "all"])
    ap.add_argument("--tokenfab", default="build/src/tokenfab")
    ap.add_argument("--model", default=FIXTURE)
    ap.add_argument("--kv-gib-per-worker", type=float, default=0.0065)
    ap.add_argument("--overhead-requests", type=int, default=16)
    ap.add_argument("--overhead-concurrency", type=int, default=1)
    ap.add_argument("--migration-tokens", type=int, default=400)
    ap.add_argument("--kills", type=int, default=20)
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
