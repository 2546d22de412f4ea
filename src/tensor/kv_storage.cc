#include "tensor/kv_storage.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include <fmt/format.h>

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
  if (block_size <= 0 || num_blocks <= 0 || num_blocks > INT32_MAX) {
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
  auto storage = std::unique_ptr<KvStorage>(new KvStorage(layout, type, block_size, num_blocks));
  if (storage->data_ == nullptr) {
    return ResourceExhaustedError(fmt::format("KV cache: cannot map {:.2f} GiB: {}", *bytes / 1073741824.0,
                                              std::strerror(errno)));
  }
  return storage;
}

void KvStorage::Prefault(int32_t first, int32_t count) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (int layer = 0; layer < layout_.n_layer; ++layer) {
    const size_t begin = BlockOffset(layer, first) / page * page;
    const size_t end = BlockOffset(layer, first) + static_cast<size_t>(count) * layer_block_bytes_;
    // Advice: a kernel without MADV_POPULATE_WRITE (before 5.14) refuses it
    // and the pages fault in on first use instead.
    ::madvise(data_.get() + begin, end - begin, MADV_POPULATE_WRITE);
  }
}

void KvStorage::PagesDeleter::operator()(uint8_t* p) const { ::munmap(p, bytes); }

KvStorage::KvStorage(const KvLayout& layout, DType type, int block_size, int64_t num_blocks)
    : layout_(layout),
      type_(type),
      element_bytes_(KvElementBytes(type)),
      block_size_(block_size),
      num_blocks_(num_blocks),
      layer_block_bytes_(static_cast<size_t>(layout.k_row + layout.v_row) * element_bytes_ * block_size) {
  bytes_ = layer_block_bytes_ * static_cast<size_t>(layout.n_layer) * static_cast<size_t>(num_blocks);
  void* pages = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (pages == MAP_FAILED) return;
  ::madvise(pages, bytes_, MADV_HUGEPAGE);  // advice: refused on kernels without THP, which is fine
  data_ = std::unique_ptr<uint8_t, PagesDeleter>(static_cast<uint8_t*>(pages), PagesDeleter{bytes_});
}

void KvStorage::Store(uint8_t* dst, const float* src, int64_t n) {
  if (type_ == DType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(src[i]);
}

void KvStorage::StoreSegments(uint8_t* first, const float* src, int64_t segment) {
  const size_t segment_stride_bytes = static_cast<size_t>(block_size_) * segment * element_bytes_;
  for (int s = 0; s < layout_.n_segments; ++s) Store(first + s * segment_stride_bytes, src + s * segment, segment);
}

void KvStorage::StoreKey(int layer, int32_t block, int slot, const float* key) {
  uint8_t* first = MutableAt(KeySegment(layer, block, 0)) + static_cast<size_t>(slot) * key_segment() * element_bytes_;
  StoreSegments(first, key, key_segment());
}

void KvStorage::StoreValue(int layer, int32_t block, int slot, const float* value) {
  if (layout_.v_row == 0) return;
  uint8_t* first =
      MutableAt(ValueSegment(layer, block, 0)) + static_cast<size_t>(slot) * value_segment() * element_bytes_;
  StoreSegments(first, value, value_segment());
}

Status KvStorage::CheckBlock(int32_t block, size_t bytes, const char* what) const {
  if (block < 0 || block >= num_blocks_) {
    return OutOfRangeError(fmt::format("{} KV block {}: the pool has blocks 0..{}", what, block, num_blocks_ - 1));
  }
  if (bytes != block_bytes()) {
    return InvalidArgumentError(
        fmt::format("{} KV block {}: {} bytes given, a block of {} layers x {} tokens x {} bytes is {}", what, block,
                    bytes, layout_.n_layer, block_size_, layout_.bytes_per_token(type_) / layout_.n_layer,
                    block_bytes()));
  }
  return Status::Ok();
}

Status KvStorage::ExportBlock(int32_t block, std::span<uint8_t> out) const {
  TF_RETURN_IF_ERROR(CheckBlock(block, out.size(), "export"));
  for (int layer = 0; layer < layout_.n_layer; ++layer) {
    std::memcpy(out.data() + layer * layer_block_bytes_, data_.get() + BlockOffset(layer, block), layer_block_bytes_);
  }
  return Status::Ok();
}

Status KvStorage::ImportBlock(int32_t block, std::span<const uint8_t> in) {
  TF_RETURN_IF_ERROR(CheckBlock(block, in.size(), "import"));
  for (int layer = 0; layer < layout_.n_layer; ++layer) {
    std::memcpy(data_.get() + BlockOffset(layer, block), in.data() + layer * layer_block_bytes_, layer_block_bytes_);
  }
  return Status::Ok();
}

}  // namespace tf
