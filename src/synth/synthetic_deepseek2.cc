// Synthetic deepseek2 models: MLA projections (with or without the query
// low-rank path), the combined kv_b, dense leading layers and MoE layers with
// 3-D expert tensors, shared experts and (V3) a selection bias.
#include <cmath>

#include <fmt/format.h>

#include "synth/synthetic_plan.h"

namespace tf::synth {

std::vector<TensorPlan> Deepseek2Tensors(const SynthPreset& p, int64_t n_layer, int64_t n_vocab, DType type) {
  const Deepseek2Shape& d = *p.deepseek2;
  const int64_t e = p.n_embd, hk = d.n_nope + d.n_rot;
  auto scale = [](int64_t fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); };
  auto mat = [type](std::string name, std::vector<int64_t> ne, float stddev) {
    return TensorPlan{std::move(name), ne, TypeForRows(type, ne[0]), stddev};
  };
  std::vector<TensorPlan> t;
  t.push_back(mat("token_embd.weight", {e, n_vocab}, 1.0f));
  t.push_back({"output_norm.weight", {e}, DType::kF32, 0.0f});
  t.push_back({"output.weight", {e, n_vocab}, OutputType(TypeForRows(type, e)), 4.0f * scale(e)});
  for (int64_t i = 0; i < n_layer; ++i) {
    auto n = [i](const char* s) { return fmt::format("blk.{}.{}", i, s); };
    t.push_back({n("attn_norm.weight"), {e}, DType::kF32, 0.0f});
    if (d.q_lora_rank > 0) {
      t.push_back(mat(n("attn_q_a.weight"), {e, d.q_lora_rank}, scale(e)));
      t.push_back({n("attn_q_a_norm.weight"), {d.q_lora_rank}, DType::kF32, 0.0f});
      t.push_back(mat(n("attn_q_b.weight"), {d.q_lora_rank, p.n_head * hk}, scale(d.q_lora_rank)));
    } else {
      t.push_back(mat(n("attn_q.weight"), {e, p.n_head * hk}, scale(e)));
    }
    t.push_back(mat(n("attn_kv_a_mqa.weight"), {e, d.kv_lora_rank + d.n_rot}, scale(e)));
    t.push_back({n("attn_kv_a_norm.weight"), {d.kv_lora_rank}, DType::kF32, 0.0f});
    t.push_back(mat(n("attn_kv_b.weight"), {d.kv_lora_rank, p.n_head * (d.n_nope + d.head_dim_v)}, scale(d.kv_lora_rank)));
    t.push_back(mat(n("attn_output.weight"), {p.n_head * d.head_dim_v, e}, scale(p.n_head * d.head_dim_v)));
    t.push_back({n("ffn_norm.weight"), {e}, DType::kF32, 0.0f});
    if (i < d.n_layer_dense) {
      t.push_back(mat(n("ffn_gate.weight"), {e, p.n_ff}, scale(e)));
      t.push_back(mat(n("ffn_up.weight"), {e, p.n_ff}, scale(e)));
      t.push_back(mat(n("ffn_down.weight"), {p.n_ff, e}, scale(p.n_ff)));
      continue;
    }
    // The router stays float32, as converters leave it.
    t.push_back({n("ffn_gate_inp.weight"), {e, d.n_expert}, DType::kF32, scale(e)});
    if (d.sigmoid_gating) t.push_back({n("exp_probs_b.bias"), {d.n_expert}, DType::kF32, 0.05f});
    t.push_back(mat(n("ffn_gate_exps.weight"), {e, d.n_ff_expert, d.n_expert}, scale(e)));
    t.push_back(mat(n("ffn_up_exps.weight"), {e, d.n_ff_expert, d.n_expert}, scale(e)));
    t.push_back(mat(n("ffn_down_exps.weight"), {d.n_ff_expert, e, d.n_expert}, scale(d.n_ff_expert)));
    if (d.n_expert_shared > 0) {
      const int64_t ff = d.n_ff_expert * d.n_expert_shared;
      t.push_back(mat(n("ffn_gate_shexp.weight"), {e, ff}, scale(e)));
      t.push_back(mat(n("ffn_up_shexp.weight"), {e, ff}, scale(e)));
      t.push_back(mat(n("ffn_down_shexp.weight"), {ff, e}, scale(ff)));
    }
  }
  return t;
}

void WriteDeepseek2Metadata(const SynthPreset& p, int64_t n_layer, GgufWriter* w) {
  const Deepseek2Shape& d = *p.deepseek2;
  const std::string a = p.arch + ".";
  w->SetU32(a + "attention.key_length", static_cast<uint32_t>(d.n_nope + d.n_rot));
  w->SetU32(a + "attention.value_length", static_cast<uint32_t>(d.head_dim_v));
  w->SetU32(a + "rope.dimension_count", static_cast<uint32_t>(d.n_rot));
  if (d.q_lora_rank > 0) w->SetU32(a + "attention.q_lora_rank", static_cast<uint32_t>(d.q_lora_rank));
  w->SetU32(a + "attention.kv_lora_rank", static_cast<uint32_t>(d.kv_lora_rank));
  w->SetU32(a + "leading_dense_block_count", static_cast<uint32_t>(std::min(d.n_layer_dense, n_layer)));
  w->SetU32(a + "expert_count", static_cast<uint32_t>(d.n_expert));
  w->SetU32(a + "expert_used_count", static_cast<uint32_t>(d.n_expert_used));
  w->SetU32(a + "expert_shared_count", static_cast<uint32_t>(d.n_expert_shared));
  w->SetU32(a + "expert_feed_forward_length", static_cast<uint32_t>(d.n_ff_expert));
  w->SetU32(a + "expert_gating_func", d.sigmoid_gating ? 2 : 1);
  w->SetBool(a + "expert_weights_norm", d.weights_norm);
  w->SetF32(a + "expert_weights_scale", d.weights_scale);
  if (d.n_group > 1) {
    w->SetU32(a + "expert_group_count", static_cast<uint32_t>(d.n_group));
    w->SetU32(a + "expert_group_used_count", static_cast<uint32_t>(d.n_group_used));
  }
  if (d.yarn_factor > 1.0f) {
    w->SetString(a + "rope.scaling.type", "yarn");
    w->SetF32(a + "rope.scaling.factor", d.yarn_factor);
    w->SetU32(a + "rope.scaling.original_context_length", static_cast<uint32_t>(d.yarn_original_context));
    w->SetF32(a + "rope.scaling.yarn_log_multiplier", d.yarn_log_multiplier);
  }
}

}  // namespace tf::synth
