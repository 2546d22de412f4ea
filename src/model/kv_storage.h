// The memory behind the KV cache: for every layer, `num_blocks` blocks of
// `block_size` token rows. What a row holds is the model's business (keys
// and values of every KV head for standard attention; a compressed latent
// for MLA); this class only hands out row pointers. Block bookkeeping
// (who owns which block) lives in src/kv, not here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"

namespace tf {

struct KvLayout {
  int n_layer = 0;
  int64_t k_row_floats = 0;  // per token per layer
  int64_t v_row_floats = 0;  // 0 when the model keeps only one row (MLA)
  size_t bytes_per_token() const {
    return static_cast<size_t>(n_layer) * static_cast<size_t>(k_row_floats + v_row_floats) * sizeof(float);
  }
};

class KvStorage {
 public:
  static StatusOr<std::unique_ptr<KvStorage>> Create(const KvLayout& layout, int block_size, int64_t num_blocks);

  const KvLayout& layout() const { return layout_; }
  int block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

  float* KeyRow(int layer, int32_t block, int slot) {
    return data_.data() + Offset(layer, block, slot);
  }
  float* ValueRow(int layer, int32_t block, int slot) {
    return KeyRow(layer, block, slot) + layout_.k_row_floats;
  }

 private:
  KvStorage(const KvLayout& layout, int block_size, int64_t num_blocks);
  size_t Offset(int layer, int32_t block, int slot) const {
    const size_t row = static_cast<size_t>(layout_.k_row_floats + layout_.v_row_floats);
    return ((static_cast<size_t>(layer) * num_blocks_ + block) * block_size_ + slot) * row;
  }
  KvLayout layout_;
  int block_size_;
  int64_t num_blocks_;
  std::vector<float> data_;
};

}  // namespace tf
