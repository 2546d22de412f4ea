// The sampler: greedy, each filter, penalties, logit bias, and seeded
// determinism, on small hand-made logit rows.
#include "sample/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace tf {
namespace {

std::vector<float> Logits() { return {1.0f, 3.0f, 2.0f, 0.5f, 2.9f}; }

int32_t SampleOnce(const SamplingParams& p, std::vector<float> logits, std::vector<int32_t> history = {}) {
  Sampler s(p, static_cast<int64_t>(logits.size()));
  for (int32_t t : history) s.Accept(t);
  return s.Sample(logits);
}

std::map<int32_t, int> Histogram(SamplingParams p, int draws) {
  std::map<int32_t, int> h;
  p.seed = 7;
  Sampler s(p, 5);
  for (int i = 0; i < draws; ++i) {
    auto l = Logits();
    ++h[s.Sample(l)];
  }
  return h;
}

TEST(SamplerTest, GreedyTakesTheArgmax) {
  SamplingParams p;
  p.temperature = 0.0f;
  EXPECT_EQ(SampleOnce(p, Logits()), 1);
}

TEST(SamplerTest, TopKOneIsGreedyAndTopKLimitsChoices) {
  SamplingParams p;
  p.top_k = 1;
  EXPECT_EQ(Histogram(p, 200), (std::map<int32_t, int>{{1, 200}}));
  p.top_k = 2;
  auto h = Histogram(p, 500);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(4));
}

TEST(SamplerTest, TopPKeepsTheSmallestSufficientSet) {
  SamplingParams p;
  p.top_p = 0.5f;  // token 1 has ~0.39 of the mass; 1 and 4 together ~0.75
  auto h = Histogram(p, 500);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(1) && h.count(4));
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.min_p = 0.3f;  // keeps tokens with p >= 0.3 * p_max: logits >= 3 + ln 0.3 = 1.80
  auto h = Histogram(p, 500);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_TRUE(h.count(1) && h.count(4) && h.count(2));
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  SamplingParams cold, hot;
  cold.temperature = 0.01f;  // 3.0 vs 2.9 becomes a gap of 10: p(1) ~ 0.99995
  hot.temperature = 50.0f;
  EXPECT_GT(Histogram(cold, 500)[1], 480);
  EXPECT_EQ(Histogram(hot, 1000).size(), 5u);
}

// softmax(logits / temperature) over `kept` (every token when empty).
std::vector<double> Softmax(const std::vector<float>& logits, double temperature, const std::vector<int32_t>& kept) {
  std::vector<double> p(logits.size(), 0.0);
  double z = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!kept.empty() && std::find(kept.begin(), kept.end(), static_cast<int32_t>(i)) == kept.end()) continue;
    p[i] = std::exp(logits[i] / temperature);
    z += p[i];
  }
  for (double& v : p) v /= z;
  return p;
}

// How often each token is drawn matches the distribution the parameters
// define: every token's count within 5 standard deviations of its binomial
// expectation (a fixed seed makes the outcome deterministic; a sampler that
// drew from the wrong distribution, e.g. without temperature or without
// renormalizing after a filter, is off by far more).
void ExpectFrequencies(SamplingParams p, const std::vector<double>& want, int draws = 40000) {
  const std::map<int32_t, int> h = Histogram(p, draws);
  for (size_t t = 0; t < want.size(); ++t) {
    const auto it = h.find(static_cast<int32_t>(t));
    const double got = it == h.end() ? 0.0 : it->second;
    const double mean = want[t] * draws;
    const double sd = std::sqrt(draws * want[t] * (1.0 - want[t]));
    if (want[t] == 0.0) {
      EXPECT_EQ(got, 0.0) << "token " << t << " must never be drawn";
    } else {
      EXPECT_NEAR(got, mean, 5.0 * sd) << "token " << t << ": p " << want[t];
    }
  }
}

TEST(SamplerTest, DrawsFollowTheSoftmax) {
  const std::vector<float> l = Logits();
  SamplingParams plain;  // temperature 1, no filters
  ExpectFrequencies(plain, Softmax(l, 1.0, {}));
  SamplingParams warm;
  warm.temperature = 0.7f;
  ExpectFrequencies(warm, Softmax(l, 0.7, {}));
  SamplingParams hot;
  hot.temperature = 1.8f;
  ExpectFrequencies(hot, Softmax(l, 1.8, {}));
}

TEST(SamplerTest, FiltersRenormalizeOverWhatTheyKeep) {
  const std::vector<float> l = Logits();
  SamplingParams k;  // top-3 after temperature 0.7
  k.temperature = 0.7f;
  k.top_k = 3;
  ExpectFrequencies(k, Softmax(l, 0.7, {1, 4, 2}));
  SamplingParams p;  // p = .40, .36, .15, ...: the nucleus of 0.8 needs three tokens
  p.top_p = 0.8f;
  ExpectFrequencies(p, Softmax(l, 1.0, {1, 4, 2}));
  SamplingParams m;  // min_p 0.3 keeps p >= 0.12: the same three
  m.min_p = 0.3f;
  ExpectFrequencies(m, Softmax(l, 1.0, {1, 4, 2}));
  SamplingParams b;  // a bias moves mass as a logit change does
  b.logit_bias = {{3, 2.0f}};
  std::vector<float> biased = l;
  biased[3] += 2.0f;
  ExpectFrequencies(b, Softmax(biased, 1.0, {}));
}

TEST(SamplerTest, PenaltiesAndBias) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 0.2f;  // token 1 was generated: 3.0 - 0.2 < 2.9
  EXPECT_EQ(SampleOnce(p, Logits(), {1}), 4);
  SamplingParams f;
  f.temperature = 0.0f;
  f.frequency_penalty = 0.05f;  // 3.0 - 3 * 0.05 < 2.9
  EXPECT_EQ(SampleOnce(f, Logits(), {1, 1, 1}), 4);
  EXPECT_EQ(SampleOnce(f, Logits(), {1}), 1);
  SamplingParams r;
  r.temperature = 0.0f;
  r.repetition_penalty = 2.0f;  // positive logit of a repeated token is halved
  EXPECT_EQ(SampleOnce(r, Logits(), {1}), 4);
  SamplingParams b;
  b.temperature = 0.0f;
  b.logit_bias = {{3, 10.0f}};
  EXPECT_EQ(SampleOnce(b, Logits()), 3);
}

TEST(SamplerTest, RepetitionPenaltyCoversThePrompt) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  Sampler s(p, 5);
  s.SetPrompt(std::vector<int32_t>{1});
  auto l = Logits();
  EXPECT_EQ(s.Sample(l), 4);
}

TEST(SamplerTest, SameSeedSameSequenceDifferentSeedDiffers) {
  SamplingParams p;
  p.temperature = 1.5f;
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 5);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      auto l = Logits();
      out.push_back(s.Sample(l));
      s.Accept(out.back());
    }
    return out;
  };
  EXPECT_EQ(run(123), run(123));
  EXPECT_NE(run(123), run(124));
}

// The nucleus search partitions instead of sorting the vocabulary; it must
// keep exactly what sorting everything and taking the smallest sufficient
// prefix keeps, in the same order, for flat and peaked rows, ties included.
TEST(SamplerTest, NucleusEqualsSortingEverything) {
  std::mt19937 gen(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = std::uniform_int_distribution<int>(1, 5000)(gen);
    const float spread = std::uniform_real_distribution<float>(0.0f, 12.0f)(gen);
    const float top_p = std::uniform_real_distribution<float>(0.01f, 0.999f)(gen);
    std::vector<std::pair<float, int32_t>> cand;
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
      // Rounded logits make ties common.
      const float logit = std::round(std::normal_distribution<float>(0.0f, spread)(gen) * 4.0f) / 4.0f;
      cand.emplace_back(std::exp(logit), i);
      sum += cand.back().first;
    }
    for (auto& c : cand) c.first = static_cast<float>(c.first / sum);
    auto want = cand;
    std::sort(want.begin(), want.end(),
              [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    double cumulative = 0.0;
    size_t keep = 0;
    while (keep < want.size()) {
      cumulative += want[keep++].first;
      if (cumulative >= top_p) break;
    }
    want.resize(keep);
    std::shuffle(cand.begin(), cand.end(), gen);
    KeepNucleus(&cand, top_p, /*sorted=*/false);
    ASSERT_EQ(cand, want) << "trial " << trial << " n " << n << " spread " << spread << " top_p " << top_p;
  }
}

TEST(SamplingParamsTest, ValidationNamesFieldAndValue) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_EQ(p.Validate(10).message(), "temperature = -1: must be within [0, 2]");
  EXPECT_EQ(p.Validate(10).param(), "temperature");
  p = SamplingParams();
  p.temperature = std::nanf("");
  EXPECT_FALSE(p.Validate(10).ok());
  p = SamplingParams();
  p.top_p = 0.0f;
  EXPECT_FALSE(p.Validate(10).ok());
  p = SamplingParams();
  p.top_k = -1;
  EXPECT_FALSE(p.Validate(10).ok());
  p = SamplingParams();
  p.logit_bias = {{10, 1.0f}};
  EXPECT_NE(p.Validate(10).message().find("token 10"), std::string::npos);
  EXPECT_EQ(p.Validate(10).param(), "logit_bias");
  p = SamplingParams();
  p.temperature = 2.5f;
  EXPECT_EQ(p.Validate(10).param(), "temperature");
  p.temperature = 2.0f;
  p.frequency_penalty = 3.0f;
  EXPECT_EQ(p.Validate(10).param(), "frequency_penalty");
  EXPECT_TRUE(SamplingParams().Validate(10).ok());
}

}  // namespace
}  // namespace tf
