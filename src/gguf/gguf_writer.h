// Writes GGUF v3 files: metadata in insertion order, tensor infos, aligned
// tensor data. Tensor data comes from a callback so multi-gigabyte models
// can be produced one tensor at a time. The file is written to PATH.tmp and
// renamed, so a failed write never leaves a half file under the real name.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_value.h"
#include "tensor/dtype.h"

namespace tf {

class GgufWriter {
 public:
  // Fills exactly `out.size()` bytes of tensor data.
  using TensorFiller = std::function<Status(std::span<uint8_t> out)>;

  explicit GgufWriter(uint32_t alignment = 32);

  // Adds or replaces a metadata key (order of first insertion is kept).
  void Set(const std::string& key, GgufValue value);
  void SetU32(const std::string& key, uint32_t v) { Set(key, GgufValue(v)); }
  void SetI32(const std::string& key, int32_t v) { Set(key, GgufValue(v)); }
  void SetF32(const std::string& key, float v) { Set(key, GgufValue(v)); }
  void SetBool(const std::string& key, bool v) { Set(key, GgufValue(v)); }
  void SetString(const std::string& key, std::string v) { Set(key, GgufValue(std::move(v))); }
  void Remove(const std::string& key);

  // `ne` in GGUF order (ne[0] contiguous). Fails on a bad shape or a
  // duplicate name.
  Status AddTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                   TensorFiller fill);
  // Convenience: copies `data` (must be exactly the tensor's byte size).
  Status AddTensorData(const std::string& name, DType type, const std::vector<int64_t>& ne,
                       std::span<const uint8_t> data);

  Status WriteFile(const std::string& path) const;
  // The whole file in memory (tests, small files).
  StatusOr<std::string> WriteToString() const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    uint64_t offset;
    TensorFiller fill;
  };
  std::string EncodeHeader() const;
  Status WriteTo(const std::function<Status(std::string_view)>& sink) const;

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t data_bytes_ = 0;
};

}  // namespace tf
