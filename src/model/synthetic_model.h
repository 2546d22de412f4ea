// `tokenfab synth`: GGUF files with random weights (fixed seed) in the shape
// of a named preset, for the demo, tests and benchmarks. Weights are scaled
// so that every layer moves the residual stream and the logits are peaked:
// the text is gibberish, but the compute is exactly a real model's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace tf {

struct SynthPreset {
  std::string name;
  std::string arch;  // general.architecture written
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t n_vocab = 0;  // built-in vocabulary size
  int64_t n_ctx = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;
};

const std::vector<SynthPreset>& SynthPresets();

struct SynthOptions {
  std::string preset;
  DType type = DType::kF16;       // one of f32, f16, bf16, q8_0, q4_0, q4_k
  std::string output_path;
  std::string vocab_from;         // empty: built-in byte-level vocabulary
  uint64_t seed = 42;
};

// The weight types synth accepts.
bool SynthSupportsType(DType type);

Status WriteSyntheticModel(const SynthOptions& options, ThreadPool* pool);

}  // namespace tf
