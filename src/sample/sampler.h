// Chooses the next token from a row of logits: penalties and logit bias,
// then temperature, top-k, top-p and min-p (the order of Hugging Face and
// vLLM), then a draw from a seeded generator. Greedy when temperature is 0.
// Deterministic for a given seed, prompt and history.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "sample/sampling_params.h"

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
  // Random numbers drawn so far (one per non-greedy Sample), and a skip of
  // `n` of them: a sampler with the same seed that skips another's draws
  // continues exactly as the other would have (request migration).
  uint64_t num_draws() const { return num_draws_; }
  void SkipDraws(uint64_t n);

 private:
  using Candidate = std::pair<float, int32_t>;  // (logit, then probability; token id)

  void ApplyPenalties(std::span<float> logits) const;
  // Replaces each candidate's logit by its probability among the candidates;
  // returns the largest probability.
  static float Normalize(std::vector<Candidate>* cand);
  int32_t Draw(const std::vector<Candidate>& candidates);

  SamplingParams params_;
  int64_t n_vocab_;
  std::mt19937_64 rng_;
  uint64_t num_draws_ = 0;
  std::vector<uint8_t> in_prompt_;       // [n_vocab] token seen in the prompt
  std::vector<int32_t> output_counts_;   // [n_vocab] occurrences in the output
  std::vector<int32_t> seen_output_;     // tokens with a nonzero count
  std::vector<Candidate> cand_;          // [n_vocab] scratch, reused per token
};

// Shrinks `cand` (probabilities) to the smallest set of most likely tokens
// whose mass reaches `top_p`, sorted most likely first (ties: lower id
// first). `sorted` says `cand` is in that order already. Expected O(n) plus
// sorting the kept set, instead of sorting the whole vocabulary.
void KeepNucleus(std::vector<std::pair<float, int32_t>>* cand, float top_p, bool sorted);

}  // namespace tf
