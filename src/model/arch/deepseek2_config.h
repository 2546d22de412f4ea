// Hyperparameters of the `deepseek2` architecture (DeepSeek V2, V2-Lite,
// V2.5, V3, R1): MLA dimensions, the MoE layout and routing, YaRN, and
// multi-token-prediction layers, read from `deepseek2.*` keys and validated.
#pragma once

#include <cstdint>

#include "base/status.h"
#include "model/model_config.h"
#include "model/moe.h"

namespace tf {

class GgufFile;

struct Deepseek2Config {
  ModelConfig base;         // head_dim_k = nope + rope, head_dim_v, rope (adjacent pairs)
  int64_t q_lora_rank = 0;  // 0: queries projected directly (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t n_rot = 0;        // rotary dims of q and k (shared key)
  int64_t n_nope = 0;       // non-rotary dims of q and k per head
  int64_t n_layer_dense = 0;   // leading dense layers
  int64_t n_ff_expert = 0;
  int64_t n_expert_shared = 0;
  int64_t n_nextn = 0;      // trailing multi-token-prediction layers (not run)
  MoeRouting routing;
  float kq_scale = 1.0f;    // 1/sqrt(head_dim_k), times YaRN's mscale^2

  int64_t n_layer_run() const { return base.n_layer - n_nextn; }
  bool is_moe_layer(int64_t layer) const { return layer >= n_layer_dense && routing.n_expert > 0; }
};

StatusOr<Deepseek2Config> ReadDeepseek2Config(const GgufFile& file);

}  // namespace tf
