#!/usr/bin/env python3
"""tokenfab bench beside other engines' llama-bench, interleaved.

Runs each workload on every engine in turn, round after round, so a noisy
minute on a shared machine lands on all of them, and prints the medians as
a markdown table (and every run as JSON with --json). The peers are binaries
you built yourself; this script only runs them:

  bench/peer_bench.py --tokenfab build/src/tokenfab \
      --peer llama.cpp=/path/to/llama.cpp/build/bin/llama-bench \
      --peer 'ik_llama.cpp=/path/to/ik_llama.cpp/build/bin/llama-bench -rtr 1' \
      --workload models/demo-tinyllama-1.1b-q4_0.gguf:512:64 --rounds 3 -t 2

A workload is FILE:PROMPT_TOKENS:GEN_TOKENS; prefill (ppN) and decode (tgN)
are separate runs, as llama-bench reports them.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys


def run_llama_bench(cmd, model, n_prompt, n_gen, threads):
    args = cmd + ["-m", model, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen), "-r", "1", "-o", "json"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)[0]["avg_ts"])


def run_tokenfab(binary, model, n_prompt, n_gen, threads, batch):
    args = [binary, "bench", "-m", model, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen), "-r", "1",
            "--json"]
    if batch > 1:
        args += ["--batch", str(batch)]
    report = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return report, float(report["pp_tok_s"] if n_gen == 0 else report["tg_tok_s"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenfab", required=True)
    ap.add_argument("--peer", action="append", default=[], help="NAME=COMMAND (a llama-bench and its extra flags)")
    ap.add_argument("--workload", action="append", required=True, help="FILE:PROMPT_TOKENS:GEN_TOKENS")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--batch16", action="store_true", help="also tokenfab's 16-sequence aggregate decode")
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()

    peers = []
    for spec in args.peer:
        name, _, cmd = spec.partition("=")
        if not cmd:
            sys.exit(f"--peer {spec!r}: expected NAME=COMMAND")
        peers.append((name, shlex.split(cmd)))
    workloads = []
    for spec in args.workload:
        parts = spec.rsplit(":", 2)
        if len(parts) != 3:
            sys.exit(f"--workload {spec!r}: expected FILE:PROMPT_TOKENS:GEN_TOKENS")
        workloads.append((parts[0], int(parts[1]), int(parts[2])))

    engines = [name for name, _ in peers] + ["tokenfab"]
    results = {}  # (model, test, engine) -> [tok/s]
    rooflines = {}  # (model, test) -> (roofline tok/s, bound)
    for rnd in range(args.rounds):
        for model, n_prompt, n_gen in workloads:
            tests = [(f"pp{n_prompt}", n_prompt, 0), (f"tg{n_gen}", 0, n_gen)]
            if args.batch16:
                tests.append((f"tg{n_gen} x16", 0, n_gen))
            for test, p, n in tests:
                for name, cmd in peers:
                    if test.endswith("x16"):
                        continue
                    v = run_llama_bench(cmd, model, p, n, args.threads)
                    results.setdefault((model, test, name), []).append(v)
                    print(f"round {rnd + 1} {model} {test} {name}: {v:.2f} tok/s", file=sys.stderr)
                # tokenfab's decode test needs a prompt to decode after: 16 tokens, as its default.
                report, v = run_tokenfab(args.tokenfab, model, p if p else 16, n, args.threads,
                                         16 if test.endswith("x16") else 1)
                results.setdefault((model, test, "tokenfab"), []).append(v)
                key = "pp" if n == 0 else "tg"
                rooflines[(model, test)] = (report[f"{key}_roofline_tok_s"],
                                            "int8" if key == "pp" else report.get("tg_roofline_bound", "memory"))
                print(f"round {rnd + 1} {model} {test} tokenfab: {v:.2f} tok/s", file=sys.stderr)

    print("| workload | " + " | ".join(engines) + " | tokenfab / best peer | tokenfab, share of roofline |")
    print("|---" * (len(engines) + 3) + "|")
    for model, n_prompt, n_gen in workloads:
        for test in [f"pp{n_prompt}", f"tg{n_gen}"] + ([f"tg{n_gen} x16"] if args.batch16 else []):
            medians = {e: statistics.median(results[(model, test, e)]) for e in engines
                       if (model, test, e) in results}
            best_peer = max((v for e, v in medians.items() if e != "tokenfab"), default=None)
            roof, bound = rooflines[(model, test)]
            cells = [f"{medians[e]:.1f}" if e in medians else "—" for e in engines]
            ratio = f"{medians['tokenfab'] / best_peer:.2f}" if best_peer else "—"
            share = f"{100 * medians['tokenfab'] / roof:.0f}% of {roof:.1f} ({bound})" if roof else "—"
            print(f"| {model.split('/')[-1]} {test} | " + " | ".join(cells) + f" | {ratio} | {share} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"model": m, "test": t, "engine": e, "tok_s": v} for (m, t, e), v in results.items()], f,
                      indent=1)


if __name__ == "__main__":
    main()
