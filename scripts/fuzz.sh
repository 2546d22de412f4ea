#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan), writes the seed
# corpora (fixtures plus one input per known attack class), replays every
# seed as a regression test, then fuzzes each target for SECONDS (default
# 60). Any crash, sanitizer report, leak, timeout or out-of-memory fails.
# Usage: scripts/fuzz.sh [SECONDS] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
fixtures=${TF_FIXTURES_DIR:-$(cd .. && pwd)/shared/fixtures}
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTF_FUZZ=ON \
  -DTF_FIXTURES_DIR="$fixtures" >/dev/null
cmake --build "$build" --target fuzzers -j "$(nproc)"

seeds="$build/seeds"
rm -rf "$seeds"
"$build/tests/fuzz/make_fuzz_seeds" "$seeds" "$fixtures"
declare -A extra=(
  [gguf]="$fixtures/vocab"
  [tokenizer]="$fixtures/vocab"
  [chat_template]=""
  [openai_request]=""
  [http_request]=""
  [override_kv]=""
  [fingerprint_sidecar]=""
  [block_file]=""
  [cluster_messages]=""
  [kv_transfer_frame]=""
)
# Replays use lengths that hold every seed; fuzzing uses shorter inputs,
# which run far faster and reach the same code.
declare -A max_len=([gguf]=16777216 [tokenizer]=65536 [chat_template]=65536 [openai_request]=262144 [http_request]=65536 [override_kv]=4096 [fingerprint_sidecar]=4096 [block_file]=4096 [cluster_messages]=65536 [kv_transfer_frame]=65536)
declare -A fuzz_len=([gguf]=65536 [tokenizer]=4096 [chat_template]=16384 [openai_request]=16384 [http_request]=16384 [override_kv]=1024 [fingerprint_sidecar]=1024 [block_file]=1024 [cluster_messages]=4096 [kv_transfer_frame]=4096)
export TF_FIXTURES_DIR="$fixtures"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=()
for target in gguf tokenizer chat_template openai_request http_request override_kv fingerprint_sidecar block_file \
  cluster_messages kv_transfer_frame; do
  bin="$build/tests/fuzz/fuzz_$target"
  corpus="$build/corpus/$target"
  mkdir -p "$corpus" "$build/artifacts"
  dirs=("$seeds/$target")
  [[ -n "${extra[$target]}" ]] && dirs+=("${extra[$target]}")
  echo "== fuzz_$target: replaying seeds"
  "$bin" -runs=0 -rss_limit_mb=2048 -timeout=20 -max_len="${max_len[$target]}" \
    -artifact_prefix="$build/artifacts/$target-" "${dirs[@]}" 2>&1 | tail -2
  echo "== fuzz_$target: fuzzing for $seconds s"
  log="$build/fuzz_$target.log"
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len="${fuzz_len[$target]}" \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" "$corpus" "${dirs[@]}" >"$log" 2>&1 || {
      tail -40 "$log"; echo "fuzz_$target: FINDING (artifact in $build/artifacts)"; exit 1; }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  summary+=("fuzz_$target: $execs executions, coverage $cov edges ($ft features), corpus $(ls "$corpus" | wc -l) inputs")
done
printf '%s\n' "${summary[@]}" | tee "$build/fuzz_summary.txt"
