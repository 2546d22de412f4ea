#include "model/kv_storage.h"

#include <fmt/format.h>

#include "base/checked_math.h"

namespace tf {

StatusOr<std::unique_ptr<KvStorage>> KvStorage::Create(const KvLayout& layout, int block_size, int64_t num_blocks) {
  if (block_size <= 0 || num_blocks <= 0) {
    return InvalidArgumentError(fmt::format("KV cache: {} blocks of {} tokens", num_blocks, block_size));
  }
  auto bytes = CheckedMul(layout.bytes_per_token(), static_cast<uint64_t>(block_size));
  if (bytes) bytes = CheckedMul(*bytes, static_cast<uint64_t>(num_blocks));
  if (!bytes || *bytes > (uint64_t{1} << 46)) {
    return ResourceExhaustedError(fmt::format("KV cache of {} blocks x {} tokens x {} bytes is too large",
                                              num_blocks, block_size, layout.bytes_per_token()));
  }
  return std::unique_ptr<KvStorage>(new KvStorage(layout, block_size, num_blocks));
}

KvStorage::KvStorage(const KvLayout& layout, int block_size, int64_t num_blocks)
    : layout_(layout), block_size_(block_size), num_blocks_(num_blocks) {
  data_.resize(layout.bytes_per_token() / sizeof(float) * static_cast<size_t>(block_size) *
               static_cast<size_t>(num_blocks));
}

}  // namespace tf
