// How a request wants its next tokens chosen. Plain data plus validation;
// the sampler (sample/sampler.h) implements it.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/status.h"

namespace tf {

struct SamplingParams {
  // The one definition of each parameter's range (OpenAI's, which the
  // server has always enforced; the CLI takes the same).
  static constexpr float kMaxTemperature = 2.0f;

  float temperature = 1.0f;        // 0: greedy
  int32_t top_k = 0;               // 0: off
  float top_p = 1.0f;              // 1: off
  float min_p = 0.0f;              // 0: off
  float repetition_penalty = 1.0f; // 1: off; over prompt and output
  float presence_penalty = 0.0f;   // over output tokens
  float frequency_penalty = 0.0f;  // over output tokens
  std::vector<std::pair<int32_t, float>> logit_bias;  // token -> added to its logit
  std::optional<uint64_t> seed;    // nullopt: nondeterministic

  bool greedy() const { return temperature == 0.0f; }
  // Names the offending field and value in the message and as the
  // status's param(); `n_vocab` bounds logit_bias ids.
  Status Validate(int64_t n_vocab) const;
};

}  // namespace tf
