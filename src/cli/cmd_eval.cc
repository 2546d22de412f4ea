// tokenfab eval -m MODEL.gguf --prompt-file F [-n N] [--logits-out PATH]
// Prints one JSON object: prompt_tokens (BOS per the model), prompt_argmax
// (argmax of the logits at every prompt position), greedy (N greedy ids,
// generated without stopping at end-of-text), greedy_text. --logits-out
// writes float32 logits of every prompt position, little-endian,
// [n_prompt][n_vocab].
#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/command.h"
#include "engine/sequence_runner.h"

namespace tf {
namespace {

struct EvalOptions {
  std::string kv_type = "f32";
  ModelSource model;
  std::string prompt_file;
  int n_greedy = 32;
  std::string logits_out;
};

int32_t Argmax(const float* row, int64_t n) { return static_cast<int32_t>(std::max_element(row, row + n) - row); }

Status WriteLogits(const std::string& path, const std::vector<float>& logits) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return IoError(fmt::format("--logits-out {}: cannot create file", path));
  const size_t written = std::fwrite(logits.data(), sizeof(float), logits.size(), f);
  const bool closed = std::fclose(f) == 0;
  if (written != logits.size() || !closed) return IoError(fmt::format("--logits-out {}: write failed", path));
  return Status::Ok();
}

Status Run(const EvalOptions& o, const GlobalOptions& g) {
  TF_ASSIGN_OR_RETURN(std::string prompt, ReadWholeFile(o.prompt_file));
  ThreadPool pool(ResolveThreads(g.threads));
  TF_ASSIGN_OR_RETURN(LoadedModel m, OpenModel(o.model, &pool));
  const std::vector<int32_t> tokens = m.tokenizer->Encode(prompt, true, false);
  if (tokens.empty()) return InvalidArgumentError(fmt::format("--prompt-file {}: the prompt has no tokens", o.prompt_file));
  const int64_t n_vocab = m.model->config().n_vocab;
  TF_ASSIGN_OR_RETURN(DType kv_type, ParseKvType(o.kv_type));
  TF_ASSIGN_OR_RETURN(auto runner, SequenceRunner::Create(m.model.get(), &pool,
                                                          static_cast<int64_t>(tokens.size()) + o.n_greedy + 1,
                                                          kv_type));
  std::vector<float> logits;
  TF_RETURN_IF_ERROR(runner->Append(tokens, true, &logits));
  nlohmann::json out;
  out["prompt_tokens"] = tokens;
  std::vector<int32_t> argmax;
  for (size_t p = 0; p < tokens.size(); ++p) argmax.push_back(Argmax(logits.data() + p * n_vocab, n_vocab));
  out["prompt_argmax"] = argmax;
  if (!o.logits_out.empty()) TF_RETURN_IF_ERROR(WriteLogits(o.logits_out, logits));
  std::vector<int32_t> greedy;
  int32_t next = argmax.back();
  std::vector<float> step;
  for (int i = 0; i < o.n_greedy; ++i) {
    greedy.push_back(next);
    if (i + 1 == o.n_greedy) break;
    TF_RETURN_IF_ERROR(runner->Append(std::vector<int32_t>{next}, false, &step));
    next = Argmax(step.data(), n_vocab);
  }
  out["greedy"] = greedy;
  out["greedy_text"] = m.tokenizer->Decode(greedy);
  const std::string text = out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  return Status::Ok();
}

}  // namespace

CommandFn RegisterEvalCommand(CLI::App* app, const GlobalOptions* global) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app->add_subcommand("eval", "Logits, argmax and greedy continuation of a prompt, as JSON");
  AddModelSourceOptions(cmd, &o->model, "GGUF model");
  cmd->add_option("--prompt-file", o->prompt_file, "File holding the prompt (used byte for byte)")->required();
  cmd->add_option("-n", o->n_greedy, "Greedy tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--logits-out", o->logits_out, "Write float32 logits of every prompt position here");
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f32 or bf16");
  return [o, global] { return Run(*o, *global); };
}

}  // namespace tf
