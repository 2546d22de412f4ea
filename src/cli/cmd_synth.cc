// tokenfab synth --preset NAME --type TYPE -o FILE [--vocab-from FILE] [--seed S]
// Writes a GGUF model with random weights in a preset's shape.
#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/command.h"
#include "synth/synthetic_model.h"

namespace tf {
namespace {

struct SynthCliOptions {
  std::string preset;
  std::string type;
  std::string output;
  std::string vocab_from;
  uint64_t seed = 42;
  int64_t layers = 0;
};

Status Run(const SynthCliOptions& o, const GlobalOptions& g) {
  SynthOptions s;
  s.preset = o.preset;
  auto type = ParseDType(o.type);
  if (!type || !SynthSupportsType(*type)) {
    return InvalidArgumentError(fmt::format("--type {}: expected one of f32, f16, bf16, q8_0, q4_0, q4_k", o.type));
  }
  s.type = *type;
  s.output_path = o.output;
  s.vocab_from = o.vocab_from;
  s.seed = o.seed;
  s.max_layers = o.layers;
  ThreadPool pool(ResolveThreads(g.threads));
  const auto start = std::chrono::steady_clock::now();
  TF_RETURN_IF_ERROR(WriteSyntheticModel(s, &pool));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "wrote {} ({} {}, seed {}) in {:.1f} s\n", o.output, o.preset, DTypeName(s.type), o.seed, secs);
  return Status::Ok();
}

}  // namespace

CommandFn RegisterSynthCommand(CLI::App* app, const GlobalOptions* global) {
  auto o = std::make_shared<SynthCliOptions>();
  std::vector<std::string> names;
  for (const auto& p : SynthPresets()) names.push_back(p.name);
  CLI::App* cmd = app->add_subcommand("synth", "Write a GGUF model with random weights in a preset's shape");
  cmd->add_option("--preset", o->preset, "Shape preset")->required()->check(CLI::IsMember(names));
  cmd->add_option("--type", o->type, "f32, f16, bf16, q8_0, q4_0 or q4_k (case-insensitive)")->required();
  cmd->add_option("-o,--output", o->output, "Output file")->required();
  cmd->add_option("--vocab-from", o->vocab_from, "Copy the vocabulary of this GGUF file");
  cmd->add_option("--seed", o->seed, "Random seed");
  cmd->add_option("--layers", o->layers, "Write only the first N layers (e.g. to benchmark a V3 layer shape)")
      ->check(CLI::Range(1, 4096));
  return [o, global] { return Run(*o, *global); };
}

}  // namespace tf
