#!/usr/bin/env bash
# The test suite under sanitizers: every GoogleTest suite with AddressSanitizer
# + UndefinedBehaviorSanitizer, and the concurrent parts (engine thread,
# server, load generator, thread pool) with ThreadSanitizer. Any report fails.
# Usage: scripts/sanitize.sh [asan|tsan|all]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
jobs=$(nproc)
fixtures=${TF_FIXTURES_DIR:-$(cd .. && pwd)/shared/fixtures}
# The cluster's multi-process suite (tf_cluster_tests) runs in the plain
# build only; its parsers, etcd client, registry and routing logic run here
# through tf_cluster_unit_tests.
gtests=(tf_unit_tests tf_server_tests tf_loadgen_tests tf_cli_tests tf_serve_store_tests tf_cluster_unit_tests tokenfab)
# -O1 with line tables only: sanitizer builds of every source on 2 cores must
# fit in CI's budget, and reports still name file and line.
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1")

if [[ $which == asan || $which == all ]]; then
  cmake -S . -B build-asan -G Ninja "${flags[@]}" -DTF_SANITIZE=address,undefined \
    -DTF_FIXTURES_DIR="$fixtures" >/dev/null
  cmake --build build-asan -j "$jobs" --target "${gtests[@]}"
  echo "== ASan + UBSan: every GoogleTest suite"
  # The fixture models run under ASan on the machine's best kernel table
  # only; their other tables (scalar, AVX2 below AVX-512, emulated AVX-512)
  # are left to the plain build: the same kernels run under ASan in the
  # kernel tests, and a scalar fixture run takes ~45 s under the sanitizer.
  other_tables='scalar|avx512_emulated'
  if grep -qw avx512vnni /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo &&
     grep -qw avx512dq /proc/cpuinfo; then
    other_tables='scalar|avx2|avx512_emulated'
  fi
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure -j "$jobs" \
       -E "openai_node_client|loadgen_html_report_chromium|jinja2_reference|tf_cluster_tests_NOT_BUILT|FixtureRefTest.*_($other_tables)( |$)")
fi
if [[ $which == tsan || $which == all ]]; then
  cmake -S . -B build-tsan -G Ninja "${flags[@]}" -DTF_SANITIZE=thread \
    -DTF_FIXTURES_DIR="$fixtures" >/dev/null
  cmake --build build-tsan -j "$jobs" --target tf_unit_tests tf_server_tests tf_loadgen_tests tf_cluster_unit_tests
  echo "== TSan: engine, scheduler, server, load generator, thread pool, registry, KV transfer"
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
     ctest --output-on-failure -j "$jobs" -R 'Engine|Server|Hostile|Backend|Loadgen|ThreadPool|BatchRunner|ModelRunner|Scheduler|KvManager|BlockPool|BlockStore|EtcdClient|KvTransfer')
fi
