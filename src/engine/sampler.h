// Chooses the next token from a row of logits: penalties and logit bias,
// then temperature, top-k, top-p and min-p (the order of Hugging Face and
// vLLM), then a draw from a seeded generator. Greedy when temperature is 0.
// Deterministic for a given seed, prompt and history.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "sched/sampling_params.h"

namespace tf {

class Sampler {
 public:
  // `params` must be valid (SamplingParams::Validate).
  Sampler(const SamplingParams& params, int64_t n_vocab);

  // Tokens the penalties look at: the prompt (repetition only) and every
  // accepted output token (all penalties).
  void SetPrompt(std::span<const int32_t> prompt);
  void Accept(int32_t token);

  // `logits` is modified (penalties, bias, temperature).
  int32_t Sample(std::span<float> logits);

 private:
  void ApplyPenalties(std::span<float> logits) const;
  int32_t Draw(const std::vector<std::pair<float, int32_t>>& candidates);

  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> in_prompt_;       // [n_vocab] token seen in the prompt
  std::vector<int32_t> output_counts_;   // [n_vocab] occurrences in the output
  std::vector<int32_t> seen_output_;     // tokens with a nonzero count
};

}  // namespace tf
