// tokenfab generate -m MODEL.gguf -p TEXT [-n N] [--temp T] [--top-k K]
//                   [--top-p P] [--seed S] ...
// Streams the continuation to stdout as it is decoded (UTF-8 safe), stops at
// the model's end-of-generation tokens, then prints a line with prompt and
// decode speed.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/command.h"
#include "sample/sampler.h"
#include "engine/sequence_runner.h"
#include "tokenizer/text_stream_decoder.h"

namespace tf {
namespace {

struct GenerateOptions {
  std::string kv_type = "f32";
  ModelSource model;
  std::string prompt;
  int n_predict = 128;
  int ctx_size = 0;  // 0: prompt + n_predict
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  bool ignore_eos = false;
  bool parse_special = true;
  std::vector<std::string> logit_bias;  // "TOKEN=BIAS"
  bool chat = false;
  std::string system;
  std::string chat_template_file;
};

using Clock = std::chrono::steady_clock;
double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Emit(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

Status Run(const GenerateOptions& o, const GlobalOptions& g) {
  ThreadPool pool(ResolveThreads(g.threads));
  TF_ASSIGN_OR_RETURN(LoadedModel m, OpenModel(o.model, &pool));
  SamplingParams params;
  params.temperature = o.temperature;
  params.top_k = o.top_k;
  params.top_p = o.top_p;
  params.min_p = o.min_p;
  params.repetition_penalty = o.repeat_penalty;
  params.presence_penalty = o.presence_penalty;
  params.frequency_penalty = o.frequency_penalty;
  params.seed = o.seed;
  for (const std::string& entry : o.logit_bias) {
    const size_t eq = entry.find('=');
    int32_t token = 0;
    float bias = 0.0f;
    try {
      if (eq == std::string::npos) throw std::invalid_argument("missing '='");
      size_t used_t = 0, used_b = 0;
      token = std::stoi(entry.substr(0, eq), &used_t);
      bias = std::stof(entry.substr(eq + 1), &used_b);
      if (used_t != eq || used_b != entry.size() - eq - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      return InvalidArgumentError(fmt::format("--logit-bias {}: expected TOKEN=BIAS", entry));
    }
    params.logit_bias.emplace_back(token, bias);
  }
  const int64_t n_vocab = m.model->config().n_vocab;
  TF_RETURN_IF_ERROR(params.Validate(n_vocab));

  std::string text = o.prompt;
  if (o.chat) {
    TF_ASSIGN_OR_RETURN(text, RenderChatPrompt(m, o.chat_template_file, o.system, o.prompt));
  }
  // A chat template writes BOS itself; do not add a second one.
  const std::string& bos_text = m.tokenizer->vocab().bos_id() >= 0 ? m.tokenizer->vocab().token(m.tokenizer->vocab().bos_id()).text : "";
  const bool add_special = !(o.chat && !bos_text.empty() && text.rfind(bos_text, 0) == 0);
  const std::vector<int32_t> prompt = m.tokenizer->Encode(text, add_special, o.parse_special);
  if (prompt.empty()) return InvalidArgumentError("-p: the prompt has no tokens");
  const int64_t ctx = o.ctx_size > 0 ? o.ctx_size : static_cast<int64_t>(prompt.size()) + o.n_predict;
  if (static_cast<int64_t>(prompt.size()) >= ctx) {
    return InvalidArgumentError(fmt::format("-c {}: the prompt alone has {} tokens", ctx, prompt.size()));
  }
  TF_ASSIGN_OR_RETURN(DType kv_type, ParseKvType(o.kv_type));
  TF_ASSIGN_OR_RETURN(auto runner, SequenceRunner::Create(m.model.get(), &pool, ctx, kv_type));
  Sampler sampler(params, n_vocab);
  sampler.SetPrompt(prompt);

  if (!o.chat) Emit(o.prompt);
  const auto t0 = Clock::now();
  std::vector<float> logits;
  TF_RETURN_IF_ERROR(runner->Append(prompt, false, &logits));
  const auto t1 = Clock::now();
  TextStreamDecoder decoder;
  int n_decoded = 0;
  while (n_decoded < o.n_predict && runner->num_tokens() < ctx) {
    const int32_t token = sampler.Sample(logits);
    sampler.Accept(token);
    if (!o.ignore_eos && m.tokenizer->vocab().IsEndOfGeneration(token)) break;
    Emit(decoder.Push(m.tokenizer->TokenToPiece(token)));
    ++n_decoded;
    if (n_decoded == o.n_predict || runner->num_tokens() >= ctx) break;
    TF_RETURN_IF_ERROR(runner->Append(std::vector<int32_t>{token}, false, &logits));
  }
  Emit(decoder.Flush());
  const auto t2 = Clock::now();
  const double prompt_s = Seconds(t1 - t0), decode_s = Seconds(t2 - t1);
  // Decode speed counts the forward passes after the prompt: one per token
  // but the last (whose logits are never needed).
  const int decode_passes = std::max(0, n_decoded - 1);
  Emit(fmt::format("\n\nprompt: {} tokens in {:.3f} s ({:.1f} tok/s) | decode: {} tokens in {:.3f} s ({:.1f} tok/s) | {} threads\n",
                   prompt.size(), prompt_s, prompt.size() / std::max(prompt_s, 1e-9), n_decoded, decode_s,
                   decode_passes / std::max(decode_s, 1e-9), pool.num_threads()));
  return Status::Ok();
}

}  // namespace

CommandFn RegisterGenerateCommand(CLI::App* app, const GlobalOptions* global) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app->add_subcommand("generate", "Continue a prompt, streaming the text");
  AddModelSourceOptions(cmd, &o->model, "GGUF model");
  cmd->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("-c,--ctx-size", o->ctx_size, "Context size (default: prompt + n)")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--temp", o->temperature, "Temperature; 0 is greedy")->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", o->top_k, "Keep the k most likely tokens; 0 keeps all")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", o->top_p, "Nucleus: smallest set with this much probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", o->min_p, "Drop tokens below min_p x the top probability")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", o->repeat_penalty, "Repetition penalty over prompt and output");
  cmd->add_option("--presence-penalty", o->presence_penalty, "Presence penalty over the output");
  cmd->add_option("--frequency-penalty", o->frequency_penalty, "Frequency penalty over the output");
  cmd->add_option("--seed", o->seed, "Random seed (default: random)");
  cmd->add_option("--logit-bias", o->logit_bias, "TOKEN=BIAS added to a token's logit (repeatable)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-text tokens");
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f32 or bf16");
  cmd->add_flag("--chat", o->chat, "Wrap the prompt as a user turn in the model's chat template");
  cmd->add_option("--system", o->system, "With --chat: a system message");
  cmd->add_option("--chat-template-file", o->chat_template_file, "With --chat: use this Jinja template instead");
  return [o, global] { return Run(*o, *global); };
}

}  // namespace tf
