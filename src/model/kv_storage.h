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
#include "tensor/dtype.h"

namespace tf {

// Elements a model keeps per token and layer. Rows split into n_segments
// equal segments (one per KV head) are stored segment-major inside a block:
// [segment][slot][elements], so one head's keys for a whole block are one
// contiguous run that attention streams through.
struct KvLayout {
  int n_layer = 0;
  int64_t k_row = 0;  // key row (or the MLA latent + rotary key)
  int64_t v_row = 0;  // value row; 0 when the model keeps only one row (MLA)
  int n_segments = 1; // KV heads; k_row and v_row are multiples of it
  size_t bytes_per_token(DType type) const {
    return static_cast<size_t>(n_layer) * static_cast<size_t>(k_row + v_row) * (type == DType::kBF16 ? 2 : 4);
  }
};

// Element types the cache can hold.
bool IsKvType(DType type);  // f32, bf16

class KvStorage {
 public:
  static StatusOr<std::unique_ptr<KvStorage>> Create(const KvLayout& layout, DType type, int block_size,
                                                     int64_t num_blocks);

  const KvLayout& layout() const { return layout_; }
  DType type() const { return type_; }
  int block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  size_t bytes() const { return bytes_; }

  // A slot's first key / value segment, in the cache's element type.
  // Segment s of the same slot is s * k_segment_stride() (v_...) elements on.
  const void* KeyRow(int layer, int32_t block, int slot) const {
    return data_.get() + BlockOffset(layer, block) + static_cast<size_t>(slot) * KeySegment() * element_bytes_;
  }
  const void* ValueRow(int layer, int32_t block, int slot) const {
    return data_.get() + BlockOffset(layer, block) + static_cast<size_t>(block_size_) * layout_.k_row * element_bytes_ +
           static_cast<size_t>(slot) * ValueSegment() * element_bytes_;
  }
  int64_t k_segment_stride() const { return block_size_ * KeySegment(); }
  int64_t v_segment_stride() const { return block_size_ * ValueSegment(); }
  // Stores float32 rows, converting to the cache's type.
  void StoreKey(int layer, int32_t block, int slot, const float* key);
  void StoreValue(int layer, int32_t block, int slot, const float* value);

 private:
  KvStorage(const KvLayout& layout, DType type, int block_size, int64_t num_blocks);
  int64_t KeySegment() const { return layout_.k_row / layout_.n_segments; }
  int64_t ValueSegment() const { return layout_.v_row / layout_.n_segments; }
  size_t BlockOffset(int layer, int32_t block) const {
    const size_t block_bytes = static_cast<size_t>(layout_.k_row + layout_.v_row) * element_bytes_ * block_size_;
    return (static_cast<size_t>(layer) * num_blocks_ + block) * block_bytes;
  }
  // Writes a row's segments, `segment_stride` elements apart.
  void StoreSegments(const void* first, const float* src, int64_t segment, int64_t segment_stride);
  void Store(uint8_t* dst, const float* src, int64_t n);
  KvLayout layout_;
  DType type_;
  size_t element_bytes_;
  int block_size_;
  int64_t num_blocks_;
  // Not value-initialized: a large pool comes from fresh (zero) pages that
  // are touched only as blocks are used, so start-up does not write it all.
  std::unique_ptr<uint8_t[]> data_;
  size_t bytes_ = 0;
};

}  // namespace tf
