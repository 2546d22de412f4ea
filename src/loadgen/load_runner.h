// Drives one load level against a server: closed-loop (a fixed number of
// requests in flight) or open-loop (Poisson arrivals at a rate), on one
// io_context thread, bounded in requests, time and in-flight calls. Like any
// load tool it first checks that the server answers (one HTTP request), and
// it stops with one error when connections keep being refused instead of
// firing failing requests until the duration ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "loadgen/request_record.h"
#include "loadgen/workload.h"

namespace tf {

struct RunResult {
  std::string label;  // "concurrency=8" or "rate=2"
  LoadShape shape;
  double wall_s = 0;  // first send to last completion
  std::vector<RequestRecord> records;
};

struct RunnerOptions {
  LoadgenTarget target;
  bool progress = true;
  int64_t max_in_flight = 4096;  // open loop: arrivals beyond this count as client_overload
  // Consecutive refused connections after which the run stops (Unavailable).
  int max_consecutive_refusals = 20;
  std::chrono::milliseconds probe_timeout{10000};  // the pre-run check
};

StatusOr<RunResult> RunLoad(const RunnerOptions& options, const LoadShape& shape, Workload* workload);

}  // namespace tf
