// One layer of one sequence's KV cache as attention reads it: the storage,
// the layer, and the sequence's block table (blocks holding positions 0..
// in order). Attention walks it block by block; inside a block one KV
// head's rows are contiguous (tensor/kv_storage.h), so a run of positions
// that stays inside a block is read in place, never gathered.
#pragma once

#include <cstdint>
#include <span>

#include "tensor/kv_storage.h"

namespace tf {

class KvView {
 public:
  KvView() = default;
  KvView(const KvStorage* storage, int layer, std::span<const int32_t> block_table)
      : storage_(storage), layer_(layer), blocks_(block_table) {}

  const KvStorage& storage() const { return *storage_; }
  int layer() const { return layer_; }
  std::span<const int32_t> block_table() const { return blocks_; }
  int block_size() const { return storage_->block_size(); }
  DType type() const { return storage_->type(); }
  // Positions the block table has room for.
  int64_t capacity() const { return static_cast<int64_t>(blocks_.size()) * storage_->block_size(); }

  // Rows of KV head `segment` for the positions of the block table's entry
  // `index`: block_size() rows, key_stride() (value_stride()) elements apart.
  const void* KeyRows(int64_t index, int segment) const {
    return storage_->KeySegment(layer_, blocks_[index], segment);
  }
  const void* ValueRows(int64_t index, int segment) const {
    return storage_->ValueSegment(layer_, blocks_[index], segment);
  }
  int64_t key_stride() const { return storage_->key_segment(); }
  int64_t value_stride() const { return storage_->value_segment(); }

 private:
  const KvStorage* storage_ = nullptr;
  int layer_ = 0;
  std::span<const int32_t> blocks_;
};

}  // namespace tf
