#include "model/model_config.h"

#include <fmt/format.h>

#include "gguf/gguf_file.h"

namespace tf {
namespace {

// Generous upper bounds: anything beyond is a corrupt file, not a model.
constexpr int64_t kMaxDim = 1 << 20;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 4096;

Status CheckRange(const ArchKeys& keys, std::string_view suffix, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return InvalidArgumentError(fmt::format("key '{}': {} is outside {}..{}", keys.Key(suffix), value, lo, hi));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<int64_t> ArchKeys::Int(std::string_view suffix) const { return file_.GetInt(Key(suffix)); }
StatusOr<int64_t> ArchKeys::IntOr(std::string_view suffix, int64_t fallback) const {
  return file_.GetIntOr(Key(suffix), fallback);
}
StatusOr<double> ArchKeys::FloatOr(std::string_view suffix, double fallback) const {
  return file_.GetFloatOr(Key(suffix), fallback);
}
StatusOr<bool> ArchKeys::BoolOr(std::string_view suffix, bool fallback) const {
  return file_.GetBoolOr(Key(suffix), fallback);
}
StatusOr<std::string> ArchKeys::StringOr(std::string_view suffix, std::string fallback) const {
  return file_.GetStringOr(Key(suffix), std::move(fallback));
}
bool ArchKeys::Has(std::string_view suffix) const { return file_.Find(Key(suffix)) != nullptr; }

StatusOr<ModelConfig> ReadModelConfig(const GgufFile& file, RopeStyle rope_style) {
  ModelConfig c;
  TF_ASSIGN_OR_RETURN(c.arch, file.GetString("general.architecture"));
  TF_ASSIGN_OR_RETURN(c.name, file.GetStringOr("general.name", ""));
  const ArchKeys keys(file, c.arch);
  TF_ASSIGN_OR_RETURN(c.n_embd, keys.Int("embedding_length"));
  TF_RETURN_IF_ERROR(CheckRange(keys, "embedding_length", c.n_embd, 1, kMaxDim));
  TF_ASSIGN_OR_RETURN(c.n_layer, keys.Int("block_count"));
  TF_RETURN_IF_ERROR(CheckRange(keys, "block_count", c.n_layer, 1, kMaxLayers));
  TF_ASSIGN_OR_RETURN(c.n_ff, keys.Int("feed_forward_length"));
  TF_RETURN_IF_ERROR(CheckRange(keys, "feed_forward_length", c.n_ff, 1, kMaxDim));
  TF_ASSIGN_OR_RETURN(c.n_head, keys.Int("attention.head_count"));
  TF_RETURN_IF_ERROR(CheckRange(keys, "attention.head_count", c.n_head, 1, kMaxHeads));
  TF_ASSIGN_OR_RETURN(c.n_head_kv, keys.IntOr("attention.head_count_kv", c.n_head));
  TF_RETURN_IF_ERROR(CheckRange(keys, "attention.head_count_kv", c.n_head_kv, 1, c.n_head));
  if (c.n_head % c.n_head_kv != 0) {
    return InvalidArgumentError(fmt::format("key '{}': {} query heads do not divide into {} KV heads",
                                            keys.Key("attention.head_count_kv"), c.n_head, c.n_head_kv));
  }
  TF_ASSIGN_OR_RETURN(c.head_dim_k, keys.IntOr("attention.key_length", c.n_embd / c.n_head));
  TF_RETURN_IF_ERROR(CheckRange(keys, "attention.key_length", c.head_dim_k, 1, kMaxDim));
  TF_ASSIGN_OR_RETURN(c.head_dim_v, keys.IntOr("attention.value_length", c.head_dim_k));
  TF_RETURN_IF_ERROR(CheckRange(keys, "attention.value_length", c.head_dim_v, 1, kMaxDim));
  TF_ASSIGN_OR_RETURN(c.n_ctx_train, keys.IntOr("context_length", 4096));
  TF_RETURN_IF_ERROR(CheckRange(keys, "context_length", c.n_ctx_train, 1, int64_t{1} << 31));
  TF_ASSIGN_OR_RETURN(double eps, keys.FloatOr("attention.layer_norm_rms_epsilon", 1e-5));
  if (!(eps > 0.0 && eps < 1.0)) {
    return InvalidArgumentError(fmt::format("key '{}': {} is not in (0, 1)", keys.Key("attention.layer_norm_rms_epsilon"), eps));
  }
  c.rms_eps = static_cast<float>(eps);

  c.rope.style = rope_style;
  TF_ASSIGN_OR_RETURN(int64_t rope_dims, keys.IntOr("rope.dimension_count", c.head_dim_k));
  if (rope_dims < 2 || rope_dims > c.head_dim_k || rope_dims % 2 != 0) {
    return InvalidArgumentError(fmt::format("key '{}': {} must be even and within 2..{}",
                                            keys.Key("rope.dimension_count"), rope_dims, c.head_dim_k));
  }
  c.rope.rotary_dims = static_cast<int>(rope_dims);
  TF_ASSIGN_OR_RETURN(double base, keys.FloatOr("rope.freq_base", 10000.0));
  if (!(base > 1.0 && base < 1e12)) {
    return InvalidArgumentError(fmt::format("key '{}': {} is not a usable rotary base", keys.Key("rope.freq_base"), base));
  }
  c.rope.freq_base = static_cast<float>(base);
  TF_ASSIGN_OR_RETURN(c.rope_scaling_type, keys.StringOr("rope.scaling.type", "none"));
  // Older files give linear scaling as rope.scale_linear.
  TF_ASSIGN_OR_RETURN(double scale_linear, keys.FloatOr("rope.scale_linear", 0.0));
  TF_ASSIGN_OR_RETURN(double factor, keys.FloatOr("rope.scaling.factor", scale_linear > 0 ? scale_linear : 1.0));
  if (scale_linear > 0 && c.rope_scaling_type == "none") c.rope_scaling_type = "linear";
  if (!(factor >= 1.0 && factor < 1e6)) {
    return InvalidArgumentError(fmt::format("key '{}': {} must be >= 1", keys.Key("rope.scaling.factor"), factor));
  }
  c.rope_scaling_factor = static_cast<float>(factor);
  if (c.rope_scaling_type == "linear") {
    c.rope.freq_scale = 1.0f / c.rope_scaling_factor;
  } else if (c.rope_scaling_type != "none" && c.rope_scaling_type != "yarn") {
    return UnimplementedError(fmt::format("key '{}': rope scaling '{}' is not supported",
                                          keys.Key("rope.scaling.type"), c.rope_scaling_type));
  }
  return c;
}

}  // namespace tf
