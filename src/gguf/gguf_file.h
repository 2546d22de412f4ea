// Reads a GGUF file (versions 2 and 3, little-endian): header, metadata,
// tensor infos and tensor data as views into a memory map. Every count,
// length, dimension and offset is validated against the bytes of the file
// before anything is allocated or read, so a malformed file yields a Status
// naming the field and byte offset, never a crash or a huge allocation.
// Knows nothing about models: see model/ for what the keys mean.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "gguf/gguf_value.h"
#include "tensor/dtype.h"
#include "tensor/tensor_view.h"

namespace tf {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  int n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};
  DType type = DType::kF32;
  uint64_t offset = 0;   // relative to the start of the data section
  uint64_t nbytes = 0;
  size_t info_offset = 0;  // where the info record starts in the file (for errors)
};

class GgufFile {
 public:
  // Maps and parses the file at `path`.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses bytes the caller keeps alive for the lifetime of the result
  // (tests and fuzzers).
  static StatusOr<std::unique_ptr<GgufFile>> Parse(std::span<const uint8_t> bytes);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return bytes_.size(); }
  const std::string& path() const { return path_; }

  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const GgufValue* Find(std::string_view key) const;
  // Replaces a key's value, or adds the key (metadata overrides, see
  // gguf_override.h). A present key keeps its kind: an integer stays an
  // integer, a float a float, and so on; arrays and general.alignment (the
  // layout already depends on it) cannot be replaced. Invalidates pointers
  // from Find/GetArray: apply overrides before anything reads the metadata.
  Status SetMetadata(GgufKeyValue kv);

  // Typed metadata access. Missing keys are NotFound; a present key of the
  // wrong type is InvalidArgument naming the key and both types.
  StatusOr<int64_t> GetInt(std::string_view key) const;
  StatusOr<double> GetFloat(std::string_view key) const;
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<const GgufArray*> GetArray(std::string_view key) const;
  // Same, with a default when the key is absent (wrong type is still an error).
  StatusOr<int64_t> GetIntOr(std::string_view key, int64_t fallback) const;
  StatusOr<double> GetFloatOr(std::string_view key, double fallback) const;
  StatusOr<bool> GetBoolOr(std::string_view key, bool fallback) const;
  StatusOr<std::string> GetStringOr(std::string_view key, std::string fallback) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;
  TensorView View(const GgufTensorInfo& info) const;
  std::optional<TensorView> FindView(std::string_view name) const;
  // Lets the OS drop a tensor's resident pages when the model keeps its own
  // copy (a no-op for parsed in-memory bytes).
  void ReleasePages(const TensorView& view) const;

 private:
  GgufFile() = default;
  static StatusOr<std::unique_ptr<GgufFile>> ParseInto(std::unique_ptr<GgufFile> file);
  Status ParseHeader(class ByteReader* reader, uint64_t* tensor_count, uint64_t* kv_count);
  Status ParseMetadata(ByteReader* reader, uint64_t kv_count);
  Status ParseTensorInfos(ByteReader* reader, uint64_t tensor_count);
  Status ParseTensorInfo(ByteReader* reader, GgufTensorInfo* info);
  Status ValidateTensorExtents();
  Status ReadAlignment();

  std::unique_ptr<MappedFile> mapped_;
  std::span<const uint8_t> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::unordered_map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace tf
