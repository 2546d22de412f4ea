// Internal to the synthetic-model writer: what to write for each tensor, and
// the per-architecture planners (synthetic_model.cc, synthetic_deepseek2.cc).
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf_writer.h"
#include "synth/synthetic_model.h"

namespace tf::synth {

struct TensorPlan {
  std::string name;
  std::vector<int64_t> ne;
  DType type;
  float stddev;  // 0: every element is `constant`
  float constant = 1.0f;
};

// The quantized type for rows of `row_length`: `type` when its blocks fit,
// else Q4_0 (4-bit types) or Q8_0, as quantizers fall back for odd rows.
DType TypeForRows(DType type, int64_t row_length);
// Output projections keep more bits under 4-bit types (Q6_K), as common
// quantizations do.
DType OutputType(DType type);
uint32_t FileType(DType type);

void WriteCommonMetadata(const SynthPreset& p, int64_t n_layer, int64_t n_vocab, DType type, GgufWriter* w);
std::vector<TensorPlan> Deepseek2Tensors(const SynthPreset& p, int64_t n_layer, int64_t n_vocab, DType type);
void WriteDeepseek2Metadata(const SynthPreset& p, int64_t n_layer, GgufWriter* w);

}  // namespace tf::synth
