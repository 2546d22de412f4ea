// Drives one load level against a server: closed-loop (a fixed number of
// requests in flight) or open-loop (Poisson arrivals at a rate), on one
// io_context thread, bounded in requests, time and in-flight calls.
#pragma once

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
};

StatusOr<RunResult> RunLoad(const RunnerOptions& options, const LoadShape& shape, Workload* workload);

}  // namespace tf
