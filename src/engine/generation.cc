#include "engine/generation.h"

#include <fmt/format.h>

namespace tf {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return "error";
}

Status ValidateGenerationRequest(const GenerationRequest& r, int64_t n_vocab, int64_t ctx_size) {
  const int64_t n_prompt = static_cast<int64_t>(r.prompt.size() + r.continued.size());
  if (r.prompt.empty()) return InvalidArgumentError("the prompt is empty").WithParam("prompt");
  if (n_prompt >= ctx_size) {
    return InvalidArgumentError(fmt::format("this model's context (n_ctx) is {} tokens and the prompt has {}; it must "
                                            "leave room for at least one generated token",
                                            ctx_size, n_prompt))
        .WithParam("prompt")
        .WithReason("context_length_exceeded");
  }
  for (const auto* ids : {&r.prompt, &r.continued}) {
    for (int32_t t : *ids) {
      if (t < 0 || t >= n_vocab) {
        return InvalidArgumentError(fmt::format("token id {} is outside the vocabulary [0, {})", t, n_vocab))
            .WithParam(ids == &r.prompt ? "prompt" : "continued");
      }
    }
  }
  // One draw per sampled token at most; a larger count would make the
  // sampler skip ahead for as long as the number says.
  if (r.num_draws_done > r.continued.size()) {
    return InvalidArgumentError(fmt::format("num_draws_done {} exceeds the {} continued tokens", r.num_draws_done,
                                            r.continued.size()))
        .WithParam("num_draws_done");
  }
  if (r.max_tokens <= 0) {
    return InvalidArgumentError(fmt::format("max_tokens {} must be at least 1", r.max_tokens)).WithParam("max_tokens");
  }
  if (r.top_logprobs < -1 || r.top_logprobs > kMaxTopLogprobs) {
    return InvalidArgumentError(fmt::format("top_logprobs {} is outside [0, {}]", r.top_logprobs, kMaxTopLogprobs))
        .WithParam("top_logprobs");
  }
  for (const std::string& s : r.stop) {
    if (s.empty()) return InvalidArgumentError("stop strings must not be empty").WithParam("stop");
  }
  TF_RETURN_IF_ERROR(r.sampling.Validate(n_vocab));
  if (r.sink == nullptr) return InvalidArgumentError("a request needs a sink");
  return Status::Ok();
}

}  // namespace tf
