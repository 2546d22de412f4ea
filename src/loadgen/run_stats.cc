#include "loadgen/run_stats.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace tf {
namespace {

using Json = nlohmann::json;

double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  // Linear interpolation between closest ranks (numpy's default).
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

Percentiles Percentiles::Of(std::vector<double> values) {
  Percentiles p;
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  p.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  p.mean = sum / static_cast<double>(values.size());
  p.p50 = Quantile(values, 0.50);
  p.p90 = Quantile(values, 0.90);
  p.p99 = Quantile(values, 0.99);
  p.max = values.back();
  return p;
}

Json Percentiles::ToJson() const {
  return {{"count", count}, {"mean", mean}, {"p50", p50}, {"p90", p90}, {"p99", p99}, {"max", max}};
}

RunSummary Summarize(const RunResult& run, const ReportOptions& options) {
  RunSummary s;
  s.label = run.label;
  s.concurrency = run.shape.concurrency;
  s.rate = run.shape.rate;
  s.wall_s = run.wall_s;
  std::vector<double> ttft, tpot, itl, e2e;
  int64_t good = 0;
  // About 60 buckets over the run, at least 0.1 s wide.
  s.timeline_bucket_s = std::max(0.1, std::ceil(run.wall_s / 60.0 * 10.0) / 10.0);
  for (const RequestRecord& r : run.records) {
    if (!r.ok()) {
      ++s.num_errors;
      ++s.errors_by_type[r.error];
      continue;
    }
    ++s.num_ok;
    s.input_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    s.usage_reported = s.usage_reported && r.usage_reported;
    ttft.push_back(r.ttft_s);
    e2e.push_back(r.e2e_s);
    const double t = r.tpot_s();
    if (t >= 0) tpot.push_back(t);
    for (size_t i = 1; i < r.token_times_s.size(); ++i) itl.push_back(r.token_times_s[i] - r.token_times_s[i - 1]);
    const bool ttft_ok = options.slo_ttft_ms <= 0 || r.ttft_s * 1000 <= options.slo_ttft_ms;
    const bool tpot_ok = options.slo_tpot_ms <= 0 || t < 0 || t * 1000 <= options.slo_tpot_ms;
    if (ttft_ok && tpot_ok) ++good;
    // Timeline: each content event is one token (or a chunk of them).
    const double per_event = r.token_times_s.empty() ? 0 : static_cast<double>(r.output_tokens) / static_cast<double>(r.token_times_s.size());
    for (double at : r.token_times_s) {
      const size_t bucket = static_cast<size_t>(std::max(0.0, at) / s.timeline_bucket_s);
      if (bucket < 100000) {
        if (s.timeline_tok_s.size() <= bucket) s.timeline_tok_s.resize(bucket + 1, 0.0);
        s.timeline_tok_s[bucket] += per_event / s.timeline_bucket_s;
      }
    }
  }
  s.ttft = Percentiles::Of(ttft);
  s.tpot = Percentiles::Of(tpot);
  s.itl = Percentiles::Of(itl);
  s.e2e = Percentiles::Of(e2e);
  if (s.wall_s > 0) {
    s.request_throughput = static_cast<double>(s.num_ok) / s.wall_s;
    s.input_tok_s = static_cast<double>(s.input_tokens) / s.wall_s;
    s.output_tok_s = static_cast<double>(s.output_tokens) / s.wall_s;
    s.goodput = static_cast<double>(good) / s.wall_s;
  }
  const int64_t total = s.num_ok + s.num_errors;
  s.goodput_fraction = total > 0 ? static_cast<double>(good) / static_cast<double>(total) : 0;
  if (options.usd_per_hour > 0 && s.output_tok_s > 0) s.usd_per_million_output = options.usd_per_hour / 3600.0 / s.output_tok_s * 1e6;
  if (options.server_cores > 0) s.output_tok_s_per_core = s.output_tok_s / options.server_cores;
  return s;
}

Json SummaryToJson(const RunSummary& s) {
  return {{"label", s.label},
          {"concurrency", s.concurrency},
          {"rate", s.rate},
          {"num_ok", s.num_ok},
          {"num_errors", s.num_errors},
          {"errors_by_type", s.errors_by_type},
          {"wall_s", s.wall_s},
          {"request_throughput", s.request_throughput},
          {"input_tokens", s.input_tokens},
          {"output_tokens", s.output_tokens},
          {"input_tok_s", s.input_tok_s},
          {"output_tok_s", s.output_tok_s},
          {"goodput_req_s", s.goodput},
          {"goodput_fraction", s.goodput_fraction},
          {"usd_per_million_output_tokens", s.usd_per_million_output},
          {"output_tok_s_per_core", s.output_tok_s_per_core},
          {"tokens_from_usage", s.usage_reported},
          {"ttft_s", s.ttft.ToJson()},
          {"tpot_s", s.tpot.ToJson()},
          {"itl_s", s.itl.ToJson()},
          {"e2e_s", s.e2e.ToJson()},
          {"timeline_bucket_s", s.timeline_bucket_s},
          {"timeline_output_tok_s", s.timeline_tok_s}};
}

Json RecordsToJson(const std::vector<RequestRecord>& records) {
  Json out = Json::array();
  for (const RequestRecord& r : records) {
    Json itl = Json::array();
    for (size_t i = 1; i < r.token_times_s.size(); ++i) itl.push_back(r.token_times_s[i] - r.token_times_s[i - 1]);
    Json j = {{"start_s", r.start_s},     {"ttft_s", r.ttft_s},           {"tpot_s", r.tpot_s()},
              {"e2e_s", r.e2e_s},         {"itl_s", itl},                 {"prompt_tokens", r.prompt_tokens},
              {"output_tokens", r.output_tokens}, {"tokens_from_usage", r.usage_reported},
              {"error", r.error.empty() ? Json() : Json(r.error)}};
    if (!r.error_detail.empty()) j["error_detail"] = r.error_detail;
    out.push_back(j);
  }
  return out;
}

std::string FormatSummaryTable(const std::vector<RunSummary>& runs, const ReportOptions& options) {
  std::string out = fmt::format("{:<16} {:>6} {:>5} {:>8} {:>9} {:>9} {:>23} {:>23} {:>9} {:>9}\n", "run", "ok", "err",
                                "req/s", "in tok/s", "out tok/s", "TTFT ms p50/p90/p99", "TPOT ms p50/p90/p99",
                                "ITL p50", "goodput");
  for (const RunSummary& s : runs) {
    out += fmt::format("{:<16} {:>6} {:>5} {:>8.2f} {:>9.1f} {:>9.1f} {:>23} {:>23} {:>9.1f} {:>8.0f}%\n", s.label,
                       s.num_ok, s.num_errors, s.request_throughput, s.input_tok_s, s.output_tok_s,
                       fmt::format("{:.0f}/{:.0f}/{:.0f}", s.ttft.p50 * 1e3, s.ttft.p90 * 1e3, s.ttft.p99 * 1e3),
                       fmt::format("{:.1f}/{:.1f}/{:.1f}", s.tpot.p50 * 1e3, s.tpot.p90 * 1e3, s.tpot.p99 * 1e3),
                       s.itl.p50 * 1e3, s.goodput_fraction * 100);
  }
  for (const RunSummary& s : runs) {
    for (const auto& [type, n] : s.errors_by_type) out += fmt::format("  {}: {} x {}\n", s.label, n, type);
    if (!s.usage_reported) out += fmt::format("  {}: the server sent no usage; output tokens counted from stream chunks\n", s.label);
  }
  std::string notes;
  if (options.slo_ttft_ms > 0 || options.slo_tpot_ms > 0) {
    notes += fmt::format("goodput: share of requests with TTFT <= {} ms and TPOT <= {} ms", options.slo_ttft_ms, options.slo_tpot_ms);
  } else {
    notes += "goodput: no SLO given (--slo-ttft-ms, --slo-tpot-ms): every success counts";
  }
  out += notes + "\n";
  for (const RunSummary& s : runs) {
    std::string extra;
    if (options.server_cores > 0) extra += fmt::format("{:.1f} out tok/s per core ({} cores)", s.output_tok_s_per_core, options.server_cores);
    if (options.usd_per_hour > 0) extra += fmt::format("{}${:.3f} per million output tokens", extra.empty() ? "" : "; ", s.usd_per_million_output);
    if (!extra.empty()) out += fmt::format("{}: {}\n", s.label, extra);
  }
  return out;
}

}  // namespace tf
