#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

namespace {

bool MoreLikely(const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

// Takes sorted candidates while their mass is below top_p; always keeps one.
size_t NucleusPrefix(const std::vector<std::pair<float, int32_t>>& cand, size_t n, float top_p) {
  double cumulative = 0.0;
  size_t keep = 0;
  while (keep < n) {
    cumulative += cand[keep++].first;
    if (cumulative >= top_p) break;
  }
  return std::max<size_t>(keep, 1);
}

// Grows a front block of the most likely candidates (unordered) until its
// mass reaches top_p, each round partitioning only what lies behind the
// block, then sorts the block; returns its size. A peaked distribution stops
// after one O(n) pass.
size_t SortMostLikelyBlock(std::vector<std::pair<float, int32_t>>* cand, float top_p) {
  auto& c = *cand;
  size_t k = 0;
  double mass = 0.0;
  for (size_t next = std::min<size_t>(64, c.size());; next = std::min(next * 4, c.size())) {
    std::nth_element(c.begin() + k, c.begin() + next - 1, c.end(), MoreLikely);
    for (; k < next; ++k) mass += c[k].first;
    if (mass >= top_p || k == c.size()) break;
  }
  std::sort(c.begin(), c.begin() + k, MoreLikely);
  return k;
}

}  // namespace

void KeepNucleus(std::vector<std::pair<float, int32_t>>* cand, float top_p, bool sorted) {
  const size_t n = sorted ? cand->size() : SortMostLikelyBlock(cand, top_p);
  cand->resize(NucleusPrefix(*cand, n, top_p));
}

float Sampler::Normalize(std::vector<Candidate>* cand) {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (const auto& c : *cand) max_logit = std::max(max_logit, c.first);
  double sum = 0.0;
  for (auto& c : *cand) {
    c.first = std::exp(c.first - max_logit);
    sum += c.first;
  }
  for (auto& c : *cand) c.first = static_cast<float>(c.first / sum);
  return static_cast<float>(1.0 / sum);  // the most likely token had exp(0)
}

int32_t Sampler::Draw(const std::vector<Candidate>& candidates) {
  double total = 0.0;
  for (const auto& c : candidates) total += c.first;
  ++num_draws_;
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * total;
  double cumulative = 0.0;
  for (const auto& c : candidates) {
    cumulative += c.first;
    if (u < cumulative) return c.second;
  }
  return candidates.back().second;
}

void Sampler::SkipDraws(uint64_t n) {
  rng_.discard(n);
  num_draws_ += n;
}

int32_t Sampler::Sample(std::span<float> logits) {
  ApplyPenalties(logits);
  if (params_.greedy()) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::vector<Candidate>& cand = cand_;
  cand.clear();
  for (int64_t t = 0; t < n_vocab_; ++t) cand.emplace_back(logits[t] / params_.temperature, static_cast<int32_t>(t));
  // Top-k first, then probabilities among what is left (as Hugging Face).
  const bool top_k = params_.top_k > 0 && params_.top_k < n_vocab_;
  if (top_k) {
    std::partial_sort(cand.begin(), cand.begin() + params_.top_k, cand.end(), MoreLikely);
    cand.resize(params_.top_k);
  }
  const float max_prob = Normalize(&cand);
  if (params_.top_p < 1.0f) KeepNucleus(&cand, params_.top_p, /*sorted=*/top_k);
  if (params_.min_p > 0.0f) {
    const float threshold = params_.min_p * max_prob;
    std::erase_if(cand, [threshold](const auto& c) { return c.first < threshold; });
  }
  return Draw(cand);
}

}  // namespace tf
