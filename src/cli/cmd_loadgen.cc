// `tokenfab loadgen`: measures an OpenAI-compatible server (tokenfab or any
// other) under closed- or open-loop load, prints a summary table and writes
// JSON and a self-contained HTML report. It sends requests only to --url.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "loadgen/html_report.h"
#include "loadgen/load_runner.h"
#include "loadgen/run_stats.h"
#include "loadgen/workload.h"

namespace tf {
namespace {

using Json = nlohmann::json;

struct LoadgenOptions {
  std::string url;
  std::string api_key;
  std::string model;
  std::string endpoint = "completions";
  int concurrency = 0;
  double rate = 0;
  int64_t num_requests = 0;
  double duration_s = 0;
  std::string input_tokens = "128";
  std::string output_tokens = "128";
  std::string prompts_file;
  int64_t shared_prefix_tokens = 0;
  std::string sweep;
  double slo_ttft_ms = 0;
  double slo_tpot_ms = 0;
  double usd_per_hour = 0;
  int server_cores = -1;
  std::string json_path;
  std::string html_path;
  uint64_t seed = 1;
  bool no_ignore_eos = false;
  bool no_progress = false;
  double request_timeout_s = 600;
  int64_t max_in_flight = 4096;
};

// "concurrency=1,2,4" or "rate=0.5,1,2" -> shapes.
StatusOr<std::vector<LoadShape>> ParseSweep(const LoadgenOptions& o, const LoadShape& base) {
  std::vector<LoadShape> shapes;
  if (o.sweep.empty()) {
    shapes.push_back(base);
    return shapes;
  }
  const size_t eq = o.sweep.find('=');
  const std::string key = o.sweep.substr(0, eq);
  if (eq == std::string::npos || (key != "concurrency" && key != "rate")) {
    return InvalidArgumentError(fmt::format("--sweep {}: expected concurrency=N,N,... or rate=R,R,...", o.sweep));
  }
  std::stringstream values(o.sweep.substr(eq + 1));
  std::string item;
  while (std::getline(values, item, ',')) {
    LoadShape s = base;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(v > 0) || v > 100000) {
      return InvalidArgumentError(fmt::format("--sweep {}: '{}' is not a positive number", o.sweep, item));
    }
    if (key == "concurrency") {
      if (v != static_cast<int>(v)) return InvalidArgumentError(fmt::format("--sweep: concurrency {} is not an integer", item));
      s.concurrency = static_cast<int>(v);
      s.rate = 0;
    } else {
      s.rate = v;
      s.concurrency = 0;
    }
    shapes.push_back(s);
  }
  if (shapes.empty() || shapes.size() > 64) return InvalidArgumentError("--sweep: give 1 to 64 values");
  return shapes;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return IoError(fmt::format("cannot write {}", path));
  out << text;
  return out ? Status::Ok() : IoError(fmt::format("cannot write {}", path));
}

std::string NowIso() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

Status Run(const LoadgenOptions& o) {
  RunnerOptions runner;
  TF_ASSIGN_OR_RETURN(runner.target, LoadgenTarget::Parse(o.url));
  runner.progress = !o.no_progress;
  runner.max_in_flight = o.max_in_flight;
  WorkloadConfig wc;
  wc.model = o.model;
  wc.api_key = o.api_key;
  if (o.endpoint != "completions" && o.endpoint != "chat") {
    return InvalidArgumentError(fmt::format("--endpoint {}: expected completions or chat", o.endpoint));
  }
  wc.chat = o.endpoint == "chat";
  TF_ASSIGN_OR_RETURN(wc.input_tokens, LengthDist::Parse(o.input_tokens, "--input-tokens"));
  TF_ASSIGN_OR_RETURN(wc.output_tokens, LengthDist::Parse(o.output_tokens, "--output-tokens"));
  wc.prompts_file = o.prompts_file;
  wc.shared_prefix_tokens = o.shared_prefix_tokens;
  wc.ignore_eos = !o.no_ignore_eos;
  wc.seed = o.seed;
  TF_ASSIGN_OR_RETURN(Workload workload, Workload::Create(wc));

  LoadShape base;
  base.concurrency = o.concurrency;
  base.rate = o.rate;
  base.num_requests = o.num_requests;
  base.duration_s = o.duration_s;
  base.request_timeout_s = o.request_timeout_s;
  if (o.sweep.empty() && o.concurrency == 0 && o.rate == 0) base.concurrency = 1;
  if (base.num_requests == 0 && base.duration_s == 0) base.num_requests = 100;
  TF_ASSIGN_OR_RETURN(std::vector<LoadShape> shapes, ParseSweep(o, base));

  ReportOptions report;
  report.slo_ttft_ms = o.slo_ttft_ms;
  report.slo_tpot_ms = o.slo_tpot_ms;
  report.usd_per_hour = o.usd_per_hour;
  const bool loopback = runner.target.host == "127.0.0.1" || runner.target.host == "localhost" || runner.target.host == "::1";
  report.server_cores = o.server_cores >= 0 ? o.server_cores : (loopback ? static_cast<int>(std::thread::hardware_concurrency()) : 0);

  Json doc;
  doc["generated_at"] = NowIso();
  doc["config"] = {{"url", o.url},
                   {"model", o.model},
                   {"endpoint", o.endpoint},
                   {"input_tokens", o.prompts_file.empty() ? o.input_tokens : "from " + o.prompts_file},
                   {"output_tokens", o.output_tokens},
                   {"shared_prefix_tokens", o.shared_prefix_tokens},
                   {"num_requests", base.num_requests},
                   {"duration_s", base.duration_s},
                   {"slo_ttft_ms", o.slo_ttft_ms},
                   {"slo_tpot_ms", o.slo_tpot_ms},
                   {"usd_per_hour", o.usd_per_hour},
                   {"server_cores", report.server_cores},
                   {"seed", o.seed}};
  doc["runs"] = Json::array();
  std::vector<RunSummary> summaries;
  for (const LoadShape& shape : shapes) {
    if (runner.progress) {
      std::fprintf(stderr, "%s\n", (shape.concurrency > 0 ? fmt::format("concurrency {}", shape.concurrency)
                                                         : fmt::format("rate {:g} req/s (Poisson)", shape.rate)).c_str());
    }
    TF_ASSIGN_OR_RETURN(RunResult run, RunLoad(runner, shape, &workload));
    summaries.push_back(Summarize(run, report));
    doc["runs"].push_back({{"summary", SummaryToJson(summaries.back())}, {"requests", RecordsToJson(run.records)}});
  }
  std::fputs(FormatSummaryTable(summaries, report).c_str(), stdout);
  if (!o.json_path.empty()) TF_RETURN_IF_ERROR(WriteFile(o.json_path, doc.dump(1, ' ', false, Json::error_handler_t::replace)));
  if (!o.html_path.empty()) TF_RETURN_IF_ERROR(WriteFile(o.html_path, RenderHtmlReport(doc)));
  int64_t ok = 0;
  for (const RunSummary& s : summaries) ok += s.num_ok;
  if (ok == 0) return UnavailableError("no request succeeded (see the error counts above)");
  return Status::Ok();
}

}  // namespace

CommandFn RegisterLoadgenCommand(CLI::App* app, const GlobalOptions* /*global*/) {
  auto o = std::make_shared<LoadgenOptions>();
  CLI::App* cmd = app->add_subcommand("loadgen", "Load-test an OpenAI-compatible server (streaming requests)");
  cmd->add_option("--url", o->url, "Server base URL, e.g. http://127.0.0.1:8080 (the only address contacted)")->required();
  cmd->add_option("--api-key", o->api_key, "Bearer token to send");
  cmd->add_option("--model", o->model, "Model name to request");
  cmd->add_option("--endpoint", o->endpoint, "completions (default) or chat");
  cmd->add_option("--concurrency", o->concurrency, "Closed loop: requests kept in flight")->check(CLI::Range(1, 100000));
  cmd->add_option("--rate", o->rate, "Open loop: Poisson arrivals per second")->check(CLI::Range(1e-6, 1e6));
  cmd->add_option("--num-requests", o->num_requests, "Requests per run (default 100 unless --duration)")
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  cmd->add_option("--duration", o->duration_s, "Seconds per run (stops issuing after it)")->check(CLI::Range(0.001, 86400.0));
  cmd->add_option("--input-tokens", o->input_tokens, "Prompt length: N or LO:HI uniform (default 128)");
  cmd->add_option("--output-tokens", o->output_tokens, "max_tokens: N or LO:HI uniform (default 128)");
  cmd->add_option("--prompts-file", o->prompts_file, "JSONL of {\"prompt\": ...} or {\"messages\": [...]}, optional max_tokens");
  cmd->add_option("--shared-prefix-tokens", o->shared_prefix_tokens, "Common prefix every prompt starts with")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--sweep", o->sweep, "A series: concurrency=1,2,4,8 or rate=1,2,4");
  cmd->add_option("--slo-ttft-ms", o->slo_ttft_ms, "Goodput: TTFT objective")->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--slo-tpot-ms", o->slo_tpot_ms, "Goodput: TPOT objective")->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--usd-per-hour", o->usd_per_hour, "Machine price, for cost per million output tokens")->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--server-cores", o->server_cores, "Server CPU cores (default: this machine's, for loopback)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--json", o->json_path, "Write all results (per-request records too) here");
  cmd->add_option("--html", o->html_path, "Write a self-contained HTML report here");
  cmd->add_option("--seed", o->seed, "Workload and arrival seed (default 1)");
  cmd->add_flag("--no-ignore-eos", o->no_ignore_eos, "Do not send ignore_eos (for servers that reject it)");
  cmd->add_flag("--no-progress", o->no_progress, "No progress bar");
  cmd->add_option("--request-timeout", o->request_timeout_s, "Seconds before a request counts as timed out (default 600)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--max-in-flight", o->max_in_flight, "Open loop: arrivals beyond this many in flight are dropped")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->get_option("--concurrency")->excludes(cmd->get_option("--rate"));
  return [o] { return Run(*o); };
}

}  // namespace tf
