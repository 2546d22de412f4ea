#include "server/metrics.h"

#include <fmt/format.h>

namespace tf {
namespace {

std::vector<double> LatencyBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75,
          1.0,   2.5,    5.0,   10.0, 20.0,  40.0, 80.0,  160.0};
}

void Gauge(const char* name, const char* help, const char* type, double value, std::string* out) {
  *out += fmt::format("# HELP tokenfab_{} {}\n# TYPE tokenfab_{} {}\ntokenfab_{} {}\n", name, help, name, type, name, value);
}

// A counter with one sample per cache tier.
void PerTier(const char* name, const char* help, int64_t ram, int64_t store, std::string* out) {
  *out += fmt::format("# HELP tokenfab_{} {}\n# TYPE tokenfab_{} counter\n", name, help, name);
  *out += fmt::format("tokenfab_{}{{tier=\"ram\"}} {}\ntokenfab_{}{{tier=\"store\"}} {}\n", name, ram, name, store);
}

void RenderStore(const KvStoreStats& s, std::string* out) {
  const auto counter = [&](const char* name, const char* help, uint64_t v) {
    Gauge(name, help, "counter", static_cast<double>(v), out);
  };
  counter("kv_store_read_bytes_total", "Bytes of KV block files read from the store", s.read_bytes);
  counter("kv_store_written_bytes_total", "Bytes of KV block files written to the store", s.written_bytes);
  counter("kv_store_blocks_written_total", "KV blocks written to the store", s.blocks_written);
  counter("kv_store_skipped_writes_total", "KV blocks not written: the write queue was full or writing stopped",
          s.skipped_writes);
  counter("kv_store_write_errors_total", "Store writes that failed (writing stops at the first)", s.write_errors);
  counter("kv_store_corrupt_blocks_total", "Store files that did not verify and were deleted", s.corrupt_deleted);
  counter("kv_store_evictions_total", "Store files removed by this process to stay within capacity", s.evictions);
  Gauge("kv_store_bytes", "Bytes of block files in the store directory (every writer's)", "gauge",
        static_cast<double>(s.size_bytes), out);
  Gauge("kv_store_files", "Block files in the store directory", "gauge", static_cast<double>(s.num_files), out);
  Gauge("kv_store_load_read_seconds_total", "Of store loads: seconds reading and verifying block files", "counter",
        s.read_seconds, out);
  Gauge("kv_store_load_import_seconds_total",
        "Of store loads: seconds copying blocks into the KV pool (including first-touch page faults)", "counter",
        s.import_seconds, out);
  s.load_seconds.Render("kv_store_load_seconds",
                        "Time from a request's store load being queued to its blocks being in", out);
}

}  // namespace

ServerMetrics::ServerMetrics()
    : ttft_(LatencyBounds()), itl_(LatencyBounds()), tpot_(LatencyBounds()), e2e_(LatencyBounds()) {
  for (const char* o : {"stop", "length", "abort", "error", "rejected"}) outcomes_[o] = 0;
}

void ServerMetrics::RecordOutcome(const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outcomes_[outcome];
}

void ServerMetrics::RecordHttpStatus(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++http_statuses_[status];
}

void ServerMetrics::RecordTokens(int64_t prompt_tokens, int64_t generated_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt_tokens);
  generated_tokens_ += static_cast<uint64_t>(generated_tokens);
}

void ServerMetrics::ObserveTtft(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.Observe(seconds);
}

void ServerMetrics::ObserveInterToken(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  itl_.Observe(seconds);
}

void ServerMetrics::ObserveRequest(double e2e_seconds, double tpot_seconds, bool has_tpot) {
  std::lock_guard<std::mutex> lock(mu_);
  e2e_.Observe(e2e_seconds);
  if (has_tpot) tpot_.Observe(tpot_seconds);
}

// Prefill/decode disaggregation, both sides (zero on a worker that is neither).
static void RenderDisaggregation(const EngineStats& s, std::string* out) {
  Gauge("kv_transfer_fills_total", "Decode requests whose prompt KV a prefill worker was asked for", "counter",
        static_cast<double>(s.remote_fills), out);
  Gauge("kv_transfer_fallbacks_total", "Of those, transfers that fell short (the rest was computed here)", "counter",
        static_cast<double>(s.remote_fill_failures), out);
  Gauge("kv_transfer_filled_tokens_total", "Prompt positions filled by prefill workers", "counter",
        static_cast<double>(s.remote_filled_tokens), out);
  Gauge("kv_transfer_received_bytes_total", "KV bytes received from prefill workers", "counter",
        static_cast<double>(s.remote_fill_bytes), out);
  Gauge("kv_transfer_exported_blocks_total", "KV blocks exported by prefill-only requests", "counter",
        static_cast<double>(s.blocks_exported), out);
}

std::string ServerMetrics::Render(const EngineStats* stats, bool engine_alive) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP tokenfab_requests_total Finished requests by outcome (finish reason, or rejected before running)\n";
  out += "# TYPE tokenfab_requests_total counter\n";
  for (const auto& [outcome, n] : outcomes_) out += fmt::format("tokenfab_requests_total{{outcome=\"{}\"}} {}\n", outcome, n);
  out += "# HELP tokenfab_http_responses_total HTTP responses by status code\n# TYPE tokenfab_http_responses_total counter\n";
  for (const auto& [code, n] : http_statuses_) out += fmt::format("tokenfab_http_responses_total{{code=\"{}\"}} {}\n", code, n);
  Gauge("prompt_tokens_total", "Prompt tokens of finished requests", "counter", static_cast<double>(prompt_tokens_), &out);
  Gauge("generation_tokens_total", "Generated tokens of finished requests", "counter", static_cast<double>(generated_tokens_), &out);
  ttft_.Render("time_to_first_token_seconds", "Time from request arrival to its first output token", &out);
  tpot_.Render("time_per_output_token_seconds", "Mean time per output token after the first, per request", &out);
  itl_.Render("inter_token_latency_seconds", "Time between consecutive output deltas of a request", &out);
  e2e_.Render("e2e_request_latency_seconds", "Time from request arrival to its last token", &out);
  Gauge("engine_alive", "1 while the engine loop runs", "gauge", engine_alive ? 1 : 0, &out);
  if (stats == nullptr) return out;
  Gauge("requests_running", "Requests in the running batch", "gauge", static_cast<double>(stats->num_running), &out);
  Gauge("requests_waiting", "Requests waiting to be scheduled", "gauge", static_cast<double>(stats->num_waiting), &out);
  Gauge("kv_blocks_used", "KV cache blocks held by requests", "gauge", static_cast<double>(stats->kv_blocks_used), &out);
  Gauge("kv_blocks_total", "KV cache blocks in the pool", "gauge", static_cast<double>(stats->kv_blocks_total), &out);
  Gauge("kv_blocks_cached", "KV blocks holding a reusable prefix", "gauge", static_cast<double>(stats->kv_blocks_cached), &out);
  PerTier("prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache, by tier (the store sees those "
          "past the RAM hits)", stats->prefix_query_tokens, stats->store.query_tokens, &out);
  PerTier("prefix_cache_hits_total", "Prompt tokens found in the prefix cache, by tier", stats->prefix_hit_tokens,
          stats->store.hit_tokens, &out);
  if (stats->store.enabled) RenderStore(stats->store, &out);
  Gauge("preemptions_total", "Requests preempted for KV memory (recomputed later)", "counter",
        static_cast<double>(stats->num_preemptions), &out);
  Gauge("engine_steps_total", "Batched forward passes", "counter", static_cast<double>(stats->num_steps), &out);
  Gauge("engine_prompt_tokens_computed_total", "Prompt tokens computed by this engine's forward passes", "counter",
        static_cast<double>(stats->prompt_tokens_computed), &out);
  RenderDisaggregation(*stats, &out);
  Gauge("engine_generated_tokens_total", "Tokens sampled by the engine", "counter",
        static_cast<double>(stats->generated_tokens), &out);
  const auto now = std::chrono::steady_clock::now();
  rate_samples_.emplace_back(now, stats->generated_tokens);
  while (rate_samples_.size() > 2 && now - rate_samples_.front().first > std::chrono::seconds(10)) rate_samples_.pop_front();
  double rate = 0;
  if (rate_samples_.size() >= 2) {
    const double dt = std::chrono::duration<double>(now - rate_samples_.front().first).count();
    if (dt > 0) rate = static_cast<double>(stats->generated_tokens - rate_samples_.front().second) / dt;
  }
  Gauge("generation_tokens_per_second", "Generated tokens per second since the oldest scrape of the last 10 s",
        "gauge", rate, &out);
  return out;
}

}  // namespace tf
