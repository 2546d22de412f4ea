// This machine's ceilings, against which `tokenfab bench` states its speed:
// memory read bandwidth (the decode roofline: every weight byte crosses the
// memory bus once per token) and peak int8 / fp32 arithmetic (the prefill
// roofline). Measured once per (CPU, instruction set, thread count) with the
// instruction set's probes, then cached as JSON.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernel_table.h"

namespace tf {

struct MachineLimits {
  std::string cpu;          // model name from /proc/cpuinfo
  std::string isa;          // kernel table the probes ran
  int threads = 0;
  double bw_gbs = 0;        // memory read bandwidth, 1e9 bytes/s
  double int8_gops = 0;     // int8 multiply-adds x 2, 1e9/s
  double fp32_gflops = 0;   // fp32 FMAs x 2, 1e9/s
};

// Runs the probes of `isa` (kernels/machine_probes.h) on every thread of
// `pool` (a few seconds; reads a `buffer_bytes` buffer, which must be far
// larger than the last-level cache).
StatusOr<MachineLimits> MeasureMachineLimits(Isa isa, ThreadPool* pool, size_t buffer_bytes = size_t{512} << 20);

// $TOKENFAB_CACHE_DIR, else $XDG_CACHE_HOME/tokenfab, else ~/.cache/tokenfab;
// the file is machine-limits.json.
std::string DefaultLimitsCachePath();

// The cached entry for this CPU, ISA and thread count; nullopt when absent
// (or the file is unreadable or malformed: the cache is only a cache).
std::optional<MachineLimits> LoadCachedLimits(const std::string& path, const std::string& cpu,
                                              const std::string& isa, int threads);
// Adds or replaces the entry (creating the directory), written atomically.
Status SaveCachedLimits(const std::string& path, const MachineLimits& limits);

// "AMD EPYC 7B13" etc.; "unknown" when /proc/cpuinfo says nothing.
std::string CpuModelName();

}  // namespace tf
