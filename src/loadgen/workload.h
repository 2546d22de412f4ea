// What `tokenfab loadgen` sends: the request mix (prompt and output
// lengths, a shared prefix, prompts from a JSONL file) and the load shape
// (closed-loop concurrency or open-loop Poisson arrivals, bounded by a
// request count and/or a duration).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/status.h"

namespace tf {

// "128" (fixed) or "64:256" (uniform, inclusive).
struct LengthDist {
  int64_t lo = 0;
  int64_t hi = 0;
  int64_t Sample(std::mt19937_64* rng) const;
  static StatusOr<LengthDist> Parse(const std::string& text, const char* flag);
};

struct LoadgenTarget {
  std::string host;  // as given in --url (never anything else)
  uint16_t port = 80;
  std::string base_path;  // e.g. "" or "/v1" prefix before /v1/...
  static StatusOr<LoadgenTarget> Parse(const std::string& url);
  std::string Url() const;  // http://host:port/base
};

struct WorkloadConfig {
  std::string model;
  std::string api_key;
  bool chat = false;  // /v1/chat/completions instead of /v1/completions
  LengthDist input_tokens{128, 128};
  LengthDist output_tokens{128, 128};
  int64_t shared_prefix_tokens = 0;
  std::string prompts_file;  // JSONL: {"prompt": "..."} or {"messages": [...]}, optional "max_tokens"
  bool ignore_eos = true;
  uint64_t seed = 1;
};

struct LoadShape {
  int concurrency = 0;   // closed loop; 0 when rate is used
  double rate = 0;       // requests/s, Poisson arrivals; 0 when concurrency is used
  int64_t num_requests = 0;   // 0: bounded by duration only
  double duration_s = 0;      // 0: bounded by count only
  double request_timeout_s = 600;
};

// One request body, ready to send.
struct PlannedRequest {
  std::string body;
  int64_t planned_output_tokens = 0;
};

class Workload {
 public:
  static StatusOr<Workload> Create(const WorkloadConfig& config);
  // The i-th request (deterministic for a seed).
  PlannedRequest Make(int64_t index);
  const WorkloadConfig& config() const { return config_; }

 private:
  std::string RandomWords(int64_t n, std::mt19937_64* rng) const;
  WorkloadConfig config_;
  std::string shared_prefix_;
  std::vector<std::string> file_bodies_;  // from --prompts-file, as JSON request fragments
  std::vector<int64_t> file_max_tokens_;
};

}  // namespace tf
