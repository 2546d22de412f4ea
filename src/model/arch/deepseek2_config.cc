#include "model/arch/deepseek2_config.h"

#include <cmath>

#include <fmt/format.h>

#include "gguf/gguf_file.h"

namespace tf {
namespace {

Status Require(bool ok, const ArchKeys& keys, std::string_view key, int64_t value, std::string_view rule) {
  if (ok) return Status::Ok();
  return InvalidArgumentError(fmt::format("key '{}': {} {}", keys.Key(key), value, rule));
}

// YaRN as DeepSeek applies it: frequencies blended between interpolation
// (1/factor) and extrapolation across the correction range, and the
// attention scale multiplied by mscale^2.
Status ReadYarn(const ArchKeys& keys, Deepseek2Config* c) {
  ModelConfig& b = c->base;
  if (b.rope_scaling_type != "yarn") return Status::Ok();
  const float factor = b.rope_scaling_factor;
  b.rope.freq_scale = 1.0f / factor;
  TF_ASSIGN_OR_RETURN(int64_t orig, keys.IntOr("rope.scaling.original_context_length", b.n_ctx_train));
  TF_RETURN_IF_ERROR(Require(orig > 0, keys, "rope.scaling.original_context_length", orig, "must be positive"));
  b.rope.original_context = static_cast<int>(orig);
  TF_ASSIGN_OR_RETURN(double ext, keys.FloatOr("rope.scaling.yarn_ext_factor", 1.0));
  TF_ASSIGN_OR_RETURN(double attn, keys.FloatOr("rope.scaling.yarn_attn_factor", 1.0));
  TF_ASSIGN_OR_RETURN(double beta_fast, keys.FloatOr("rope.scaling.yarn_beta_fast", 32.0));
  TF_ASSIGN_OR_RETURN(double beta_slow, keys.FloatOr("rope.scaling.yarn_beta_slow", 1.0));
  TF_ASSIGN_OR_RETURN(double log_mul, keys.FloatOr("rope.scaling.yarn_log_multiplier", 0.0));
  for (double v : {ext, attn, beta_fast, beta_slow, log_mul}) {
    if (!std::isfinite(v) || v < 0.0 || v > 1e4) {
      return InvalidArgumentError(fmt::format("deepseek2 YaRN parameter {} is out of range", v));
    }
  }
  b.rope.ext_factor = static_cast<float>(ext);
  b.rope.beta_fast = static_cast<float>(beta_fast);
  b.rope.beta_slow = static_cast<float>(beta_slow);
  // Rotation magnitude: YaRN's (1 + 0.1 ln factor) is cancelled here, as in
  // DeepSeek's reference where cos/sin have unit length.
  const float log_inv_scale = std::log(1.0f / b.rope.freq_scale);
  b.rope.attn_factor = 1.0f / (1.0f + 0.1f * log_inv_scale);
  const float mscale = static_cast<float>(attn) * (1.0f + static_cast<float>(log_mul) * log_inv_scale);
  c->kq_scale *= mscale * mscale;
  return Status::Ok();
}

Status ReadMoe(const ArchKeys& keys, Deepseek2Config* c) {
  TF_ASSIGN_OR_RETURN(int64_t n_expert, keys.IntOr("expert_count", 0));
  TF_RETURN_IF_ERROR(Require(n_expert >= 0 && n_expert <= 4096, keys, "expert_count", n_expert, "is outside 0..4096"));
  MoeRouting& r = c->routing;
  r.n_expert = static_cast<int>(n_expert);
  if (n_expert == 0) return Status::Ok();
  TF_ASSIGN_OR_RETURN(int64_t used, keys.Int("expert_used_count"));
  TF_RETURN_IF_ERROR(Require(used >= 1 && used <= n_expert, keys, "expert_used_count", used, "must be within 1..expert_count"));
  r.n_expert_used = static_cast<int>(used);
  TF_ASSIGN_OR_RETURN(c->n_ff_expert, keys.Int("expert_feed_forward_length"));
  TF_RETURN_IF_ERROR(Require(c->n_ff_expert >= 1 && c->n_ff_expert <= (1 << 20), keys, "expert_feed_forward_length",
                             c->n_ff_expert, "is outside 1..2^20"));
  TF_ASSIGN_OR_RETURN(c->n_expert_shared, keys.IntOr("expert_shared_count", 0));
  TF_RETURN_IF_ERROR(Require(c->n_expert_shared >= 0 && c->n_expert_shared <= 64, keys, "expert_shared_count",
                             c->n_expert_shared, "is outside 0..64"));
  TF_ASSIGN_OR_RETURN(int64_t gating, keys.IntOr("expert_gating_func", 1));
  TF_RETURN_IF_ERROR(Require(gating == 1 || gating == 2, keys, "expert_gating_func", gating, "must be 1 (softmax) or 2 (sigmoid)"));
  r.gating = gating == 2 ? ExpertGating::kSigmoid : ExpertGating::kSoftmax;
  TF_ASSIGN_OR_RETURN(r.normalize, keys.BoolOr("expert_weights_norm", false));
  TF_ASSIGN_OR_RETURN(double scale, keys.FloatOr("expert_weights_scale", 1.0));
  if (!std::isfinite(scale) || scale <= 0.0 || scale > 1e3) {
    return InvalidArgumentError(fmt::format("key '{}': {} is out of range", keys.Key("expert_weights_scale"), scale));
  }
  r.scale = static_cast<float>(scale);
  TF_ASSIGN_OR_RETURN(int64_t groups, keys.IntOr("expert_group_count", 1));
  TF_ASSIGN_OR_RETURN(int64_t groups_used, keys.IntOr("expert_group_used_count", groups));
  TF_RETURN_IF_ERROR(Require(groups >= 1 && n_expert % groups == 0, keys, "expert_group_count", groups,
                             "must divide expert_count"));
  TF_RETURN_IF_ERROR(Require(groups_used >= 1 && groups_used <= groups, keys, "expert_group_used_count", groups_used,
                             "must be within 1..expert_group_count"));
  TF_RETURN_IF_ERROR(Require(groups_used * (n_expert / groups) >= used, keys, "expert_group_used_count", groups_used,
                             "groups hold fewer experts than expert_used_count"));
  r.n_group = static_cast<int>(groups);
  r.n_group_used = static_cast<int>(groups_used);
  return Status::Ok();
}

}  // namespace

StatusOr<Deepseek2Config> ReadDeepseek2Config(const GgufFile& file) {
  Deepseek2Config c;
  TF_ASSIGN_OR_RETURN(c.base, ReadModelConfig(file, RopeStyle::kAdjacentPairs));
  const ArchKeys keys(file, c.base.arch);
  c.n_rot = c.base.rope.rotary_dims;
  c.n_nope = c.base.head_dim_k - c.n_rot;
  TF_RETURN_IF_ERROR(Require(c.n_nope >= 0, keys, "rope.dimension_count", c.n_rot, "exceeds attention.key_length"));
  TF_ASSIGN_OR_RETURN(c.q_lora_rank, keys.IntOr("attention.q_lora_rank", 0));
  TF_RETURN_IF_ERROR(Require(c.q_lora_rank >= 0 && c.q_lora_rank <= (1 << 16), keys, "attention.q_lora_rank",
                             c.q_lora_rank, "is outside 0..65536"));
  TF_ASSIGN_OR_RETURN(c.kv_lora_rank, keys.Int("attention.kv_lora_rank"));
  TF_RETURN_IF_ERROR(Require(c.kv_lora_rank >= 1 && c.kv_lora_rank <= (1 << 16), keys, "attention.kv_lora_rank",
                             c.kv_lora_rank, "is outside 1..65536"));
  TF_ASSIGN_OR_RETURN(c.n_layer_dense, keys.IntOr("leading_dense_block_count", 0));
  TF_RETURN_IF_ERROR(Require(c.n_layer_dense >= 0 && c.n_layer_dense <= c.base.n_layer, keys,
                             "leading_dense_block_count", c.n_layer_dense, "is outside 0..block_count"));
  TF_ASSIGN_OR_RETURN(c.n_nextn, keys.IntOr("nextn_predict_layers", 0));
  TF_RETURN_IF_ERROR(Require(c.n_nextn >= 0 && c.n_nextn < c.base.n_layer, keys, "nextn_predict_layers", c.n_nextn,
                             "must leave at least one layer"));
  TF_RETURN_IF_ERROR(ReadMoe(keys, &c));
  c.kq_scale = 1.0f / std::sqrt(static_cast<float>(c.base.head_dim_k));
  TF_RETURN_IF_ERROR(ReadYarn(keys, &c));
  return c;
}

}  // namespace tf
