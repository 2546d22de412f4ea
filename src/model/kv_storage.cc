#include "model/kv_storage.h"

#include <cmath>

#include <fmt/format.h>

#include <unistd.h>

#include <cstring>

#include "base/checked_math.h"
#include "tensor/float16.h"

namespace tf {

bool IsKvType(DType type) { return type == DType::kF32 || type == DType::kBF16; }

StatusOr<std::unique_ptr<KvStorage>> KvStorage::Create(const KvLayout& layout, DType type, int block_size,
                                                       int64_t num_blocks) {
  if (!IsKvType(type)) {
    return InvalidArgumentError(fmt::format("KV cache type {}: supported are f32 and bf16", DTypeName(type)));
  }
  if (layout.n_segments <= 0 || layout.k_row % layout.n_segments != 0 || layout.v_row % layout.n_segments != 0) {
    return InvalidArgumentError(fmt::format("KV layout: rows of {} + {} elements do not split into {} segments",
                                            layout.k_row, layout.v_row, layout.n_segments));
  }
  if (block_size <= 0 || num_blocks <= 0) {
    return InvalidArgumentError(fmt::format("KV cache: {} blocks of {} tokens", num_blocks, block_size));
  }
  auto bytes = CheckedMul(layout.bytes_per_token(type), static_cast<uint64_t>(block_size));
  if (bytes) bytes = CheckedMul(*bytes, static_cast<uint64_t>(num_blocks));
  // Refuse what the machine cannot hold instead of dying in the allocator.
  const uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (!bytes || *bytes > physical) {
    return ResourceExhaustedError(fmt::format(
        "KV cache of {} blocks x {} tokens x {} bytes needs {:.1f} GiB; this machine has {:.1f} GiB of memory",
        num_blocks, block_size, layout.bytes_per_token(type), bytes ? *bytes / 1073741824.0 : INFINITY,
        physical / 1073741824.0));
  }
  return std::unique_ptr<KvStorage>(new KvStorage(layout, type, block_size, num_blocks));
}

KvStorage::KvStorage(const KvLayout& layout, DType type, int block_size, int64_t num_blocks)
    : layout_(layout),
      type_(type),
      element_bytes_(type == DType::kBF16 ? 2 : 4),
      block_size_(block_size),
      num_blocks_(num_blocks) {
  bytes_ = layout.bytes_per_token(type) * static_cast<size_t>(block_size) * static_cast<size_t>(num_blocks);
  data_.reset(new uint8_t[bytes_]);
}

void KvStorage::Store(uint8_t* dst, const float* src, int64_t n) {
  if (type_ == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(src[i]);
}

void KvStorage::StoreSegments(const void* first, const float* src, int64_t segment, int64_t segment_stride) {
  // The storage is ours; the row accessors hand out const pointers.
  uint8_t* dst = static_cast<uint8_t*>(const_cast<void*>(first));
  for (int s = 0; s < layout_.n_segments; ++s) {
    Store(dst + static_cast<size_t>(s) * segment_stride * element_bytes_, src + s * segment, segment);
  }
}

void KvStorage::StoreKey(int layer, int32_t block, int slot, const float* key) {
  StoreSegments(KeyRow(layer, block, slot), key, KeySegment(), k_segment_stride());
}

void KvStorage::StoreValue(int layer, int32_t block, int slot, const float* value) {
  if (layout_.v_row == 0) return;
  StoreSegments(ValueRow(layer, block, slot), value, ValueSegment(), v_segment_stride());
}

}  // namespace tf
