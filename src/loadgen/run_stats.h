// Turns a run's request records into what operators compare: latency
// percentiles, throughput, goodput under SLOs, cost per million output
// tokens and tokens/s per core; plus the JSON and console renderings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/load_runner.h"

namespace tf {

struct Percentiles {
  int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  static Percentiles Of(std::vector<double> values);
  nlohmann::json ToJson() const;
};

struct ReportOptions {
  double slo_ttft_ms = 0;  // 0: no TTFT objective
  double slo_tpot_ms = 0;  // 0: no TPOT objective
  double usd_per_hour = 0;
  int server_cores = 0;
};

struct RunSummary {
  std::string label;
  int concurrency = 0;
  double rate = 0;
  int64_t num_ok = 0, num_errors = 0;
  std::map<std::string, int64_t> errors_by_type;
  double wall_s = 0;
  double request_throughput = 0;  // successful requests/s
  double input_tok_s = 0, output_tok_s = 0;
  double goodput = 0;              // requests/s meeting every SLO
  double goodput_fraction = 0;     // of all requests
  double usd_per_million_output = 0;
  double output_tok_s_per_core = 0;
  int64_t input_tokens = 0, output_tokens = 0;
  bool usage_reported = true;  // every success had server-side token counts
  Percentiles ttft, tpot, itl, e2e;  // seconds
  double timeline_bucket_s = 1;        // width of the timeline's buckets
  std::vector<double> timeline_tok_s;  // output tokens/s per bucket
};

RunSummary Summarize(const RunResult& run, const ReportOptions& options);
nlohmann::json SummaryToJson(const RunSummary& s);
nlohmann::json RecordsToJson(const std::vector<RequestRecord>& records);
// The console table: one row per run.
std::string FormatSummaryTable(const std::vector<RunSummary>& runs, const ReportOptions& options);

}  // namespace tf
