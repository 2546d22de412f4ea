// Time per sampled token for one 32 000-entry logit row under the sampling
// settings clients send most (OpenAI's top_p without top_k, llama.cpp's
// top_k 40 + top_p 0.95, plain temperature), for a flat and a peaked row.
// The sampler runs on the engine thread between forward passes, once per
// running request per step, so at 64 streams 1 ms here is 64 ms per step.
// Usage: build/bench/tf_sampler_bench [DRAWS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "sample/sampler.h"

int main(int argc, char** argv) {
  const int draws = argc > 1 ? std::max(1, std::atoi(argv[1])) : 500;
  constexpr int kVocab = 32000;
  std::printf("%-8s %-6s %-6s %12s\n", "logits", "top_k", "top_p", "ms/token");
  for (float spread : {3.0f, 8.0f}) {
    std::mt19937 gen(1);
    std::normal_distribution<float> normal(0.0f, spread);
    std::vector<float> row(kVocab);
    for (float& x : row) x = normal(gen);
    const struct {
      int top_k;
      float top_p;
    } settings[] = {{0, 1.0f}, {0, 0.95f}, {40, 0.95f}};
    for (const auto& s : settings) {
      tf::SamplingParams p;
      p.temperature = 0.8f;
      p.top_k = s.top_k;
      p.top_p = s.top_p;
      p.min_p = 0.0f;
      p.seed = 3;
      tf::Sampler sampler(p, kVocab);
      long checksum = 0;
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < draws; ++i) {
        std::vector<float> logits = row;
        checksum += sampler.Sample(logits);
      }
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("sd %-5.0f %-6d %-6.2f %12.3f   (checksum %ld)\n", spread, s.top_k, s.top_p, ms / draws, checksum);
    }
  }
  return 0;
}
