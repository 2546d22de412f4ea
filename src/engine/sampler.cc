#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace tf {

Sampler::Sampler(const SamplingParams& params, int64_t n_vocab)
    : params_(params),
      n_vocab_(n_vocab),
      rng_(params.seed ? *params.seed : std::random_device{}()),
      in_prompt_(n_vocab, 0),
      output_counts_(n_vocab, 0) {}

void Sampler::SetPrompt(std::span<const int32_t> prompt) {
  for (int32_t t : prompt) {
    if (t >= 0 && t < n_vocab_) in_prompt_[t] = 1;
  }
}

void Sampler::Accept(int32_t token) {
  if (token < 0 || token >= n_vocab_) return;
  if (output_counts_[token]++ == 0) seen_output_.push_back(token);
}

void Sampler::ApplyPenalties(std::span<float> logits) const {
  const float rep = params_.repetition_penalty;
  auto penalize = [&](int32_t t) { logits[t] = logits[t] > 0 ? logits[t] / rep : logits[t] * rep; };
  if (rep != 1.0f) {
    for (int64_t t = 0; t < n_vocab_; ++t) {
      if (in_prompt_[t] || output_counts_[t] > 0) penalize(static_cast<int32_t>(t));
    }
  }
  for (int32_t t : seen_output_) {
    logits[t] -= params_.presence_penalty + params_.frequency_penalty * static_cast<float>(output_counts_[t]);
  }
  for (const auto& [token, bias] : params_.logit_bias) logits[token] += bias;
}

int32_t Sampler::Draw(const std::vector<std::pair<float, int32_t>>& candidates) {
  double total = 0.0;
  for (const auto& c : candidates) total += c.first;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0.0;
  for (const auto& c : candidates) {
    cumulative += c.first;
    if (u < cumulative) return c.second;
  }
  return candidates.back().second;
}

int32_t Sampler::Sample(std::span<float> logits) {
  ApplyPenalties(logits);
  if (params_.greedy()) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates as (logit, id), best first once sorted.
  std::vector<std::pair<float, int32_t>> cand;
  cand.reserve(static_cast<size_t>(n_vocab_));
  for (int64_t t = 0; t < n_vocab_; ++t) cand.emplace_back(logits[t] / params_.temperature, static_cast<int32_t>(t));
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  // Sorting is only needed for top-k and top-p; min-p needs just the max.
  if (params_.top_k > 0 && params_.top_k < n_vocab_) {
    std::partial_sort(cand.begin(), cand.begin() + params_.top_k, cand.end(), by_logit);
    cand.resize(params_.top_k);
  } else if (params_.top_p < 1.0f) {
    std::sort(cand.begin(), cand.end(), by_logit);
  }
  const float max_logit = std::max_element(cand.begin(), cand.end(), [](const auto& a, const auto& b) {
                            return a.first < b.first;
                          })->first;
  double sum = 0.0;
  for (auto& c : cand) {
    c.first = std::exp(c.first - max_logit);
    sum += c.first;
  }
  for (auto& c : cand) c.first = static_cast<float>(c.first / sum);
  if (params_.top_p < 1.0f) {  // cand is sorted here
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < cand.size()) {
      cumulative += cand[keep++].first;
      if (cumulative >= params_.top_p) break;
    }
    cand.resize(std::max<size_t>(keep, 1));
  }
  if (params_.min_p > 0.0f) {
    // The most likely token has probability exp(0) / sum.
    const float threshold = params_.min_p * static_cast<float>(1.0 / sum);
    std::erase_if(cand, [threshold](const auto& c) { return c.first < threshold; });
  }
  return Draw(cand);
}

}  // namespace tf
