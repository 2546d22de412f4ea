// Prometheus text-format metrics (prefix tokenfab_): request outcomes,
// token counters, latency histograms measured where the client sees them
// (the server), and the engine's gauges (running/waiting requests, KV
// blocks, prefix cache, preemptions) taken from EngineStats at scrape time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/histogram.h"
#include "engine/engine.h"

namespace tf {

class ServerMetrics {
 public:
  ServerMetrics();
  void RecordOutcome(const std::string& outcome);  // stop, length, abort, error, rejected
  void RecordHttpStatus(int status);
  void RecordTokens(int64_t prompt_tokens, int64_t generated_tokens);
  void ObserveTtft(double seconds);
  void ObserveInterToken(double seconds);
  void ObserveRequest(double e2e_seconds, double tpot_seconds, bool has_tpot);
  // The whole exposition, with the engine's gauges and a tokens/s rate over
  // the last 10 seconds of scrapes-or-samples.
  std::string Render(const EngineStats* stats, bool engine_alive);

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> outcomes_;
  std::map<int, uint64_t> http_statuses_;
  uint64_t prompt_tokens_ = 0;
  uint64_t generated_tokens_ = 0;
  Histogram ttft_, itl_, tpot_, e2e_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> rate_samples_;
};

}  // namespace tf
