// tokenfab bench -m MODEL [-p 512] [-n 128] [-r 3] [--batch B] [--json]
// Prefill (pp) and decode (tg) speed like llama-bench, stated against this
// machine's measured limits: decode as a share of the memory-bandwidth
// roofline (weight bytes read per token / bandwidth), prefill as a share of
// the arithmetic roofline (operations per token / peak int8 or fp32 rate).
#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "perf/machine_limits.h"
#include "perf/model_bench.h"
#include "cli/cli_common.h"
#include "cli/command.h"
#include "base/logging.h"

namespace tf {
namespace {

struct BenchCliOptions {
  ModelSource model;
  int64_t prompt_tokens = 512;
  int64_t gen_tokens = 128;
  int reps = 3;
  int batch = 1;
  bool json = false;
  bool remeasure = false;
  bool no_pack = false;
  std::string kv_type = "f32";
  std::string limits_cache;
};

// Whether most weight bytes go through int8 kernels (quantized activations)
// rather than float ones: picks the arithmetic ceiling prefill is held to.
bool MostlyInt8(const GgufFile& file, const KernelTable& kernels) {
  uint64_t int8_bytes = 0, float_bytes = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    if (t.n_dims < 2) continue;
    const WeightKernel& wk = kernels.ForWeight(t.type);
    if (wk.vec_dot == nullptr) continue;
    (wk.act == ActFormat::kF32 ? float_bytes : int8_bytes) += t.nbytes;
  }
  return int8_bytes >= float_bytes;
}

StatusOr<MachineLimits> GetLimits(const BenchCliOptions& o, const KernelTable& kernels, ThreadPool* pool,
                                  std::string* source) {
  const std::string path = o.limits_cache.empty() ? DefaultLimitsCachePath() : o.limits_cache;
  const std::string cpu = CpuModelName();
  if (!o.remeasure) {
    if (auto cached = LoadCachedLimits(path, cpu, std::string(IsaName(kernels.isa)), pool->num_threads())) {
      *source = fmt::format("cached in {}", path);
      return *cached;
    }
  }
  TF_ASSIGN_OR_RETURN(MachineLimits limits, MeasureMachineLimits(kernels.isa, pool));
  const Status saved = SaveCachedLimits(path, limits);
  *source = saved.ok() ? fmt::format("measured now, cached in {}", path)
                       : fmt::format("measured now (not cached: {})", saved.message());
  return limits;
}

struct Rooflines {
  double tg_tok_s = 0;  // decode: the lower of the bandwidth and arithmetic bounds
  double pp_tok_s = 0;  // prefill: arithmetic bound
  bool tg_memory_bound = true;
  const char* peak_name = "int8";
};

Rooflines ComputeRooflines(const Model& model, const MachineLimits& m, const BenchCliOptions& o, bool int8) {
  Rooflines r;
  const double peak_ops = (int8 ? m.int8_gops : m.fp32_gflops) * 1e9;
  r.peak_name = int8 ? "int8" : "fp32";
  const double attn = model.attention_macs_per_position();
  const double pp_ops = 2.0 * (model.matmul_macs_per_token() + attn * (o.prompt_tokens + 1) / 2.0);
  r.pp_tok_s = peak_ops / pp_ops;
  const double tg_ctx = static_cast<double>(o.prompt_tokens) + o.gen_tokens / 2.0;
  const double tg_ops = 2.0 * (model.matmul_macs_per_token() + attn * tg_ctx);
  const double memory_bound = o.batch * m.bw_gbs * 1e9 / static_cast<double>(model.weight_bytes());
  const double compute_bound = peak_ops / tg_ops;
  r.tg_memory_bound = memory_bound <= compute_bound;
  r.tg_tok_s = std::min(memory_bound, compute_bound);
  return r;
}

nlohmann::json OrNull(bool present, double v) { return present ? nlohmann::json(v) : nlohmann::json(nullptr); }

void PrintJson(const BenchCliOptions& o, const LoadedModel& lm, const MachineLimits& m, const Rooflines& r,
               const ModelBenchResult& res) {
  const MeanSd pp = Summarize(res.pp_tok_s), tg = Summarize(res.tg_tok_s);
  const bool has_pp = !res.pp_tok_s.empty(), has_tg = !res.tg_tok_s.empty();
  nlohmann::json j = {
      {"model", o.model.path},
      {"model_bytes", lm.model->weight_bytes()},
      {"packed_bytes", lm.model->arena().packed_bytes()},
      {"threads", m.threads},
      {"batch", o.batch},
      {"n_prompt", o.prompt_tokens},
      {"n_gen", o.gen_tokens},
      {"reps", o.reps},
      {"kv_type", o.kv_type},
      {"isa", m.isa},
      {"cpu", m.cpu},
      {"bw_gbs", m.bw_gbs},
      {"int8_gops", m.int8_gops},
      {"fp32_gflops", m.fp32_gflops},
      {"pp_tok_s", OrNull(has_pp, pp.mean)},
      {"pp_tok_s_sd", OrNull(has_pp, pp.sd)},
      {"tg_tok_s", OrNull(has_tg, tg.mean)},
      {"tg_tok_s_sd", OrNull(has_tg, tg.sd)},
      {"pp_roofline_tok_s", r.pp_tok_s},
      {"tg_roofline_tok_s", r.tg_tok_s},
      {"pp_roofline_pct", OrNull(has_pp, 100.0 * pp.mean / r.pp_tok_s)},
      {"tg_roofline_pct", OrNull(has_tg, 100.0 * tg.mean / r.tg_tok_s)},
      {"tg_roofline_bound", r.tg_memory_bound ? "memory" : "compute"},
      {"pp_runs", res.pp_tok_s},
      {"tg_runs", res.tg_tok_s},
  };
  fmt::print("{}\n", j.dump());
}

void PrintTable(const BenchCliOptions& o, const LoadedModel& lm, const MachineLimits& m, const std::string& source,
                const Rooflines& r, const ModelBenchResult& res) {
  const Model& model = *lm.model;
  fmt::print("model:    {} ({:.2f} MiB of weights read per token, {:.3f} G multiply-adds per token, "
             "{:.2f} MiB packed)\n",
             o.model.path, model.weight_bytes() / 1048576.0, model.matmul_macs_per_token() / 1e9,
             model.arena().packed_bytes() / 1048576.0);
  fmt::print("machine:  {} | {} | {} threads | read bandwidth {:.1f} GB/s | int8 peak {:.0f} GOPS | "
             "fp32 peak {:.0f} GFLOPS ({})\n",
             m.cpu, m.isa, m.threads, m.bw_gbs, m.int8_gops, m.fp32_gflops, source);
  const std::string batch = o.batch > 1 ? fmt::format(" x{}", o.batch) : "";
  fmt::print("{:<14} {:>18} {:>24} {:>12}\n", "test", "tok/s", "roofline tok/s", "of roofline");
  if (!res.pp_tok_s.empty()) {
    const MeanSd pp = Summarize(res.pp_tok_s);
    fmt::print("{:<14} {:>18} {:>24} {:>11.1f}%\n", fmt::format("pp{}{}", o.prompt_tokens, batch),
               fmt::format("{:.2f} ± {:.2f}", pp.mean, pp.sd), fmt::format("{:.1f} ({})", r.pp_tok_s, r.peak_name),
               100.0 * pp.mean / r.pp_tok_s);
  }
  if (!res.tg_tok_s.empty()) {
    const MeanSd tg = Summarize(res.tg_tok_s);
    fmt::print("{:<14} {:>18} {:>24} {:>11.1f}%\n", fmt::format("tg{}{}", o.gen_tokens, batch),
               fmt::format("{:.2f} ± {:.2f}", tg.mean, tg.sd),
               fmt::format("{:.1f} ({})", r.tg_tok_s, r.tg_memory_bound ? "memory" : r.peak_name),
               100.0 * tg.mean / r.tg_tok_s);
  }
}

Status RunBench(const BenchCliOptions& o, const GlobalOptions& g) {
  TF_ASSIGN_OR_RETURN(DType kv_type, ParseKvType(o.kv_type));
  ModelOptions model_options;
  model_options.pack_weights = !o.no_pack;
  ThreadPool pool(ResolveThreads(g.threads));
  TF_ASSIGN_OR_RETURN(LoadedModel lm, OpenModel(o.model, &pool, model_options));
  const KernelTable& kernels = GetKernelTable(model_options.isa);
  std::string source;
  TF_ASSIGN_OR_RETURN(MachineLimits limits, GetLimits(o, kernels, &pool, &source));
  ModelBenchOptions mb;
  mb.prompt_tokens = o.prompt_tokens;
  mb.gen_tokens = o.gen_tokens;
  mb.reps = o.reps;
  mb.batch = o.batch;
  mb.kv_type = kv_type;
  TF_ASSIGN_OR_RETURN(ModelBenchResult result, RunModelBench(lm.model.get(), &pool, mb));
  const Rooflines r = ComputeRooflines(*lm.model, limits, o, MostlyInt8(*lm.file, kernels));
  if (o.json) {
    PrintJson(o, lm, limits, r, result);
  } else {
    PrintTable(o, lm, limits, source, r, result);
  }
  return Status::Ok();
}

}  // namespace

CommandFn RegisterBenchCommand(CLI::App* app, const GlobalOptions* global) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app->add_subcommand("bench", "Measure prefill and decode speed against this machine's limits");
  AddModelSourceOptions(cmd, &o->model, "GGUF model");
  cmd->add_option("-p,--n-prompt", o->prompt_tokens, "Prompt tokens per sequence (0: no prefill test)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", o->gen_tokens, "Tokens to decode after the prompt (0: no decode test)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-r,--repetitions", o->reps, "Measured repetitions (after one warm-up)")->check(CLI::Range(1, 1000));
  cmd->add_option("--batch", o->batch, "Sequences computed together (aggregate tokens/s)")->check(CLI::Range(1, 4096));
  cmd->add_flag("--json", o->json, "Print one JSON object instead of the table");
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f32 or bf16");
  cmd->add_flag("--remeasure", o->remeasure, "Measure the machine's limits again instead of using the cache");
  cmd->add_option("--limits-cache", o->limits_cache, "Machine-limits cache file (default: ~/.cache/tokenfab/...)");
  cmd->add_flag("--no-pack", o->no_pack, "Compute from the file's layout (no repacked weights)");
  return [o, global]() { return RunBench(*o, *global); };
}

}  // namespace tf
