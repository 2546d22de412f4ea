// `tokenfab synth`: GGUF files with random weights (fixed seed) in the shape
// of a named preset, for the demo, tests and benchmarks. Weights are scaled
// so that every layer moves the residual stream and the logits are peaked:
// the text is gibberish, but the compute is exactly a real model's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "tensor/dtype.h"

namespace tf {

// The deepseek2-specific part of a preset.
struct Deepseek2Shape {
  int64_t q_lora_rank = 0;  // 0: direct query projection (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t n_nope = 0;
  int64_t n_rot = 0;
  int64_t head_dim_v = 0;
  int64_t n_layer_dense = 0;
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_expert_shared = 0;
  int64_t n_ff_expert = 0;
  int64_t n_group = 1;
  int64_t n_group_used = 1;
  bool sigmoid_gating = false;  // with a selection bias (V3)
  bool weights_norm = false;
  float weights_scale = 1.0f;
  float yarn_factor = 1.0f;
  int64_t yarn_original_context = 0;
  float yarn_log_multiplier = 0.0f;
};

struct SynthPreset {
  std::string name;
  std::string arch;  // general.architecture written
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;     // dense feed-forward width
  int64_t n_vocab = 0;  // built-in vocabulary size
  int64_t n_ctx = 0;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  bool tied_output = false;
  std::optional<Deepseek2Shape> deepseek2;
};

const std::vector<SynthPreset>& SynthPresets();

struct SynthOptions {
  std::string preset;
  DType type = DType::kF16;  // one of f32, f16, bf16, q8_0, q4_0, q4_k
  std::string output_path;
  std::string vocab_from;    // empty: built-in byte-level vocabulary
  uint64_t seed = 42;
  int64_t max_layers = 0;    // > 0: write only the first N layers
};

// The weight types synth accepts.
bool SynthSupportsType(DType type);

Status WriteSyntheticModel(const SynthOptions& options, ThreadPool* pool);

}  // namespace tf
