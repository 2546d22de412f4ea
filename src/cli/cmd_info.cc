// tokenfab info -m MODEL.gguf [--metadata] [--tensors]
// Architecture, hyperparameters, tensor type counts, vocabulary summary,
// chat template presence, KV bytes per token and the kernels in use.
#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "base/cpu_features.h"
#include "cli/cli_common.h"
#include "cli/command.h"
#include "kernels/kernel_table.h"

namespace tf {
namespace {

struct InfoOptions {
  ModelSource model;
  bool metadata = false;
  bool tensors = false;
};

std::string Bytes(double b) {
  if (b >= 1 << 30) return fmt::format("{:.2f} GiB", b / (1 << 30));
  if (b >= 1 << 20) return fmt::format("{:.2f} MiB", b / (1 << 20));
  if (b >= 1 << 10) return fmt::format("{:.1f} KiB", b / (1 << 10));
  return fmt::format("{} B", b);
}

void PrintTensorTypes(const GgufFile& f) {
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  uint64_t total = 0;
  for (const GgufTensorInfo& t : f.tensors()) {
    auto& e = by_type[std::string(DTypeName(t.type))];
    ++e.first;
    e.second += t.nbytes;
    total += t.nbytes;
  }
  std::string line;
  for (const auto& [name, e] : by_type) line += fmt::format("{}{} x {} ({})", line.empty() ? "" : ", ", name, e.first, Bytes(e.second));
  fmt::print("tensors:       {} in {}: {}\n", f.tensors().size(), Bytes(total), line.empty() ? "none" : line);
}

void PrintVocab(const GgufFile& f) {
  auto tokenizer = Tokenizer::FromGguf(f);
  if (!tokenizer.ok()) {
    fmt::print("vocabulary:    unusable: {}\n", tokenizer.status().message());
    return;
  }
  const Vocab& v = (*tokenizer)->vocab();
  auto tok = [&](int32_t id) { return id < 0 ? std::string("none") : fmt::format("{} {:?}", id, v.token(id).text); };
  fmt::print("vocabulary:    {} ({}), pre-tokenizer {}, {} tokens, {} merges\n", v.type_name(),
             *f.GetStringOr("tokenizer.ggml.model", "?"), v.pre(), v.size(), v.num_merges());
  fmt::print("special:       bos {}, eos {}, add_bos {}, add_eos {}, {} end-of-generation ids\n", tok(v.bos_id()),
             tok(v.eos_id()), v.add_bos(), v.add_eos(), v.end_of_generation_ids().size());
  auto tmpl = f.GetStringOr("tokenizer.chat_template", "");
  fmt::print("chat template: {}\n", tmpl.ok() && !tmpl->empty() ? fmt::format("present ({} bytes)", tmpl->size()) : "absent");
}

// What each instruction set's table really replaces in the one below it.
void PrintKernelOverrides(Isa best) {
  const std::vector<Isa> isas = AvailableIsas();
  for (size_t i = 1; i < isas.size() && isas[i - 1] != best; ++i) {
    const std::vector<std::string> own = KernelOverrides(GetKernelTable(isas[i]), GetKernelTable(isas[i - 1]));
    fmt::print("  {} over {}: {}\n", IsaName(isas[i]), IsaName(isas[i - 1]),
               own.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(own, ", ")));
  }
}

void PrintModel(const GgufFile& f) {
  ModelOptions options;
  options.pack_weights = false;  // info only reads shapes and sizes
  ThreadPool pool(1);  // nothing is repacked
  auto model = LoadModel(f, options, &pool);
  if (!model.ok()) {
    fmt::print("model:         not loadable: {}\n", model.status().message());
    return;
  }
  const ModelConfig& c = (*model)->config();
  fmt::print("hyperparams:   n_vocab {}, n_embd {}, n_layer {}, n_head {}, n_head_kv {}, head_dim {}/{}, n_ff {}, "
             "n_ctx_train {}, rms_eps {}\n",
             c.n_vocab, c.n_embd, c.n_layer, c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, c.n_ff,
             c.n_ctx_train, c.rms_eps);
  fmt::print("rope:          {} dims, base {}, {}, scaling {} (factor {})\n", c.rope.rotary_dims, c.rope.freq_base,
             c.rope.style == RopeStyle::kAdjacentPairs ? "adjacent pairs" : "halves (neox)", c.rope_scaling_type,
             c.rope_scaling_factor);
  if (const std::string arch = (*model)->ArchSummary(); !arch.empty()) fmt::print("attention:     {}\n", arch);
  const KvLayout kv = (*model)->kv_layout();
  fmt::print("kv cache:      {} per token ({} per layer) in f32, {} in bf16; {} in bf16 for the training context\n",
             Bytes(kv.bytes_per_token(DType::kF32)), fmt::format("{} + {} values", kv.k_row, kv.v_row),
             Bytes(kv.bytes_per_token(DType::kBF16)),
             Bytes(static_cast<double>(kv.bytes_per_token(DType::kBF16)) * c.n_ctx_train));
  fmt::print("weights:       {} read per decoded token\n", Bytes((*model)->weight_bytes()));
}

Status Run(const InfoOptions& o) {
  TF_ASSIGN_OR_RETURN(auto f, OpenGguf(o.model));
  fmt::print("file:          {} ({}, GGUF v{}, {} metadata keys, alignment {})\n", o.model.path,
             Bytes(f->file_size()), f->version(), f->metadata().size(), f->alignment());
  fmt::print("architecture:  {}\n", *f->GetStringOr("general.architecture", "(none)"));
  fmt::print("name:          {}\n", *f->GetStringOr("general.name", "(none)"));
  if (!o.model.override_kv.empty()) fmt::print("overrides:     {}\n", fmt::join(o.model.override_kv, ", "));
  TF_ASSIGN_OR_RETURN(const ModelFingerprint fingerprint, FingerprintModel(o.model));
  fmt::print("fingerprint:   xxh3-128 {} ({} in {:.3f} s)\n", fingerprint.content.hex,
             fingerprint.content.from_cache ? "cached" : "computed", fingerprint.content.seconds);
  PrintTensorTypes(*f);
  PrintVocab(*f);
  if (!f->tensors().empty()) PrintModel(*f);
  fmt::print("kernels:       {} (cpu: {})\n", IsaName(BestIsa()), GetCpuFeatures().ToString());
  PrintKernelOverrides(BestIsa());
  if (o.metadata) {
    for (const GgufKeyValue& kv : f->metadata()) fmt::print("  {} = {}\n", kv.key, kv.value.ToDisplayString());
  }
  if (o.tensors) {
    for (const GgufTensorInfo& t : f->tensors()) {
      std::vector<int64_t> dims(t.ne.begin(), t.ne.begin() + t.n_dims);
      fmt::print("  {:<32} {:<6} [{}] {}\n", t.name, DTypeName(t.type), fmt::join(dims, ", "), Bytes(t.nbytes));
    }
  }
  return Status::Ok();
}

}  // namespace

CommandFn RegisterInfoCommand(CLI::App* app, const GlobalOptions*) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app->add_subcommand("info", "Describe a GGUF model file");
  AddModelSourceOptions(cmd, &o->model, "GGUF file");
  cmd->add_flag("--metadata", o->metadata, "List every metadata key");
  cmd->add_flag("--tensors", o->tensors, "List every tensor");
  return [o] { return Run(*o); };
}

}  // namespace tf
