#include "model/kv_storage.h"

#include <cmath>

#include <fmt/format.h>

#include <unistd.h>

#include "base/checked_math.h"

namespace tf {

StatusOr<std::unique_ptr<KvStorage>> KvStorage::Create(const KvLayout& layout, int block_size, int64_t num_blocks) {
  if (block_size <= 0 || num_blocks <= 0) {
    return InvalidArgumentError(fmt::format("KV cache: {} blocks of {} tokens", num_blocks, block_size));
  }
  auto bytes = CheckedMul(layout.bytes_per_token(), static_cast<uint64_t>(block_size));
  if (bytes) bytes = CheckedMul(*bytes, static_cast<uint64_t>(num_blocks));
  // Refuse what the machine cannot hold instead of dying in the allocator.
  const uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (!bytes || *bytes > physical) {
    return ResourceExhaustedError(fmt::format(
        "KV cache of {} blocks x {} tokens x {} bytes needs {:.1f} GiB; this machine has {:.1f} GiB of memory",
        num_blocks, block_size, layout.bytes_per_token(), bytes ? *bytes / 1073741824.0 : INFINITY,
        physical / 1073741824.0));
  }
  return std::unique_ptr<KvStorage>(new KvStorage(layout, block_size, num_blocks));
}

KvStorage::KvStorage(const KvLayout& layout, int block_size, int64_t num_blocks)
    : layout_(layout), block_size_(block_size), num_blocks_(num_blocks) {
  data_.resize(layout.bytes_per_token() / sizeof(float) * static_cast<size_t>(block_size) *
               static_cast<size_t>(num_blocks));
}

}  // namespace tf
