// Hyperparameters every decoder-only architecture shares, read from
// `{arch}.*` metadata keys and validated (positive, consistent, within
// sane bounds) so the forward pass can trust them.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "kernels/ops.h"

namespace tf {

class GgufFile;

struct ModelConfig {
  std::string arch;  // general.architecture
  std::string name;  // general.name (may be empty)
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;  // per-head query/key width
  int64_t head_dim_v = 0;  // per-head value width
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  float rms_eps = 1e-5f;
  RopeParams rope;
  std::string rope_scaling_type;  // "none", "linear", "yarn"
  float rope_scaling_factor = 1.0f;
};

// Reads `{arch}.key` for the architecture named in the file.
class ArchKeys {
 public:
  ArchKeys(const GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}
  std::string Key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }
  StatusOr<int64_t> Int(std::string_view suffix) const;
  StatusOr<int64_t> IntOr(std::string_view suffix, int64_t fallback) const;
  StatusOr<double> FloatOr(std::string_view suffix, double fallback) const;
  StatusOr<bool> BoolOr(std::string_view suffix, bool fallback) const;
  StatusOr<std::string> StringOr(std::string_view suffix, std::string fallback) const;
  bool Has(std::string_view suffix) const;

 private:
  const GgufFile& file_;
  std::string arch_;
};

// The shared keys; `rope_style` is the architecture's convention.
StatusOr<ModelConfig> ReadModelConfig(const GgufFile& file, RopeStyle rope_style);

}  // namespace tf
