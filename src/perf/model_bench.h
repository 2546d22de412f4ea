// The measurement behind `tokenfab bench`, in the manner of llama-bench:
// prefill speed for a prompt of p tokens (pp) and decode speed for n tokens
// after it (tg), repeated, the first (warm-up) run excluded. With a batch of
// B sequences, all B prompts are computed together and then every decode
// step computes one token for each sequence in a single forward pass; the
// rates are aggregate tokens per second.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"

namespace tf {

struct ModelBenchOptions {
  int64_t prompt_tokens = 512;  // p; 0 skips prefill
  int64_t gen_tokens = 128;     // n; 0 skips decode
  int reps = 3;
  int batch = 1;
  DType kv_type = DType::kF32;
  uint64_t seed = 1234;  // prompt token ids are random (the speed does not depend on them)
};

struct ModelBenchResult {
  std::vector<double> pp_tok_s;  // one per measured repetition
  std::vector<double> tg_tok_s;
};

StatusOr<ModelBenchResult> RunModelBench(Model* model, ThreadPool* pool, const ModelBenchOptions& options);

struct MeanSd {
  double mean = 0;
  double sd = 0;  // sample standard deviation; 0 for fewer than 2 values
};
MeanSd Summarize(const std::vector<double>& values);

}  // namespace tf
