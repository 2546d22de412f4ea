// The memory behind the KV cache: for every layer, `num_blocks` blocks of
// `block_size` token rows. What a row holds is the model's business (keys
// and values of every KV head for standard attention; a compressed latent
// for MLA); this class stores rows, hands out views (tensor/kv_view.h) and
// moves whole blocks in and out as bytes. Block bookkeeping (who owns which
// block) lives in src/kv, not here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "tensor/dtype.h"

namespace tf {

// Bytes of one cached element (f32 or bf16).
inline size_t KvElementBytes(DType type) { return type == DType::kBF16 ? 2 : 4; }

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
    return static_cast<size_t>(n_layer) * static_cast<size_t>(k_row + v_row) * KvElementBytes(type);
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
  size_t element_bytes() const { return element_bytes_; }

  // Elements of one KV head's key (value) for one position: the distance
  // between consecutive slots of a segment.
  int64_t key_segment() const { return layout_.k_row / layout_.n_segments; }
  int64_t value_segment() const { return layout_.v_row / layout_.n_segments; }
  // The first slot of `segment` in a block of a layer: block_size rows of
  // key_segment() (value_segment()) elements, in the cache's element type.
  const void* KeySegment(int layer, int32_t block, int segment) const {
    return data_.get() + BlockOffset(layer, block) +
           static_cast<size_t>(segment) * block_size_ * key_segment() * element_bytes_;
  }
  const void* ValueSegment(int layer, int32_t block, int segment) const {
    return data_.get() + BlockOffset(layer, block) + static_cast<size_t>(block_size_) * layout_.k_row * element_bytes_ +
           static_cast<size_t>(segment) * block_size_ * value_segment() * element_bytes_;
  }
  // Stores float32 rows, converting to the cache's type.
  void StoreKey(int layer, int32_t block, int slot, const float* key);
  void StoreValue(int layer, int32_t block, int slot, const float* value);

  // One block of every layer as bytes, the unit the KV store and KV
  // transfer move. Layout (block_bytes() in all): layer-major; inside a
  // layer the block exactly as stored: keys [n_segments][block_size]
  // [key_segment()], then values [n_segments][block_size][value_segment()],
  // elements of type() in little-endian order. Two storages with the same
  // layout, type and block size exchange blocks byte for byte.
  size_t block_bytes() const { return layer_block_bytes_ * static_cast<size_t>(layout_.n_layer); }
  Status ExportBlock(int32_t block, std::span<uint8_t> out) const;
  // Faults in (zeroed) the pages of blocks [first, first + count) in every
  // layer without changing their contents, so later writes there do not
  // fault.
  void Prefault(int32_t first, int32_t count);
  Status ImportBlock(int32_t block, std::span<const uint8_t> in);

 private:
  KvStorage(const KvLayout& layout, DType type, int block_size, int64_t num_blocks);
  size_t BlockOffset(int layer, int32_t block) const {
    return (static_cast<size_t>(layer) * num_blocks_ + block) * layer_block_bytes_;
  }
  uint8_t* MutableAt(const void* p) { return data_.get() + (static_cast<const uint8_t*>(p) - data_.get()); }
  // Writes a row's segments into consecutive segments of a block.
  void StoreSegments(uint8_t* first, const float* src, int64_t segment);
  void Store(uint8_t* dst, const float* src, int64_t n);
  Status CheckBlock(int32_t block, size_t bytes, const char* what) const;

  KvLayout layout_;
  DType type_;
  size_t element_bytes_;
  int block_size_;
  int64_t num_blocks_;
  size_t layer_block_bytes_;  // one block of one layer
  // Anonymous pages, transparent huge pages where the kernel allows: they
  // are faulted in (zeroed) only as blocks are used, so start-up writes
  // nothing, and a block import into never-touched memory (the KV store's
  // load after a restart) takes a few 2 MiB faults instead of one per 4 KiB.
  struct PagesDeleter {
    size_t bytes;  // no initializer: it must be default-constructible inside an incomplete class
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, PagesDeleter> data_;
  size_t bytes_ = 0;
};

}  // namespace tf
