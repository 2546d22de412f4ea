// Bounds-checked little-endian reads from an untrusted byte buffer. Every
// failure names what was being read and the byte offset where it starts.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/status.h"

namespace tf {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  size_t size() const { return bytes_.size(); }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    TF_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, bytes_.data() + offset_, sizeof(T));
    offset_ += sizeof(T);
    return Status::Ok();
  }

  // Copies `n` raw bytes (n already checked by the caller against what the
  // file can hold is not required: Need() checks it here).
  Status ReadBytes(size_t n, std::span<const uint8_t>* out, std::string_view what) {
    TF_RETURN_IF_ERROR(Need(n, what));
    *out = bytes_.subspan(offset_, n);
    offset_ += n;
    return Status::Ok();
  }

  // A GGUF string: u64 length, then that many bytes (not NUL-terminated).
  Status ReadString(std::string* out, std::string_view what) {
    const size_t start = offset_;
    uint64_t length = 0;
    TF_RETURN_IF_ERROR(Read(&length, what));
    if (length > remaining()) {
      return DataLossError(fmt::format("{} at byte {}: string length {} exceeds the {} bytes left in the file",
                                       what, start, length, remaining()));
    }
    out->assign(reinterpret_cast<const char*>(bytes_.data() + offset_), length);
    offset_ += length;
    return Status::Ok();
  }

  Status Need(size_t n, std::string_view what) const {
    if (n > remaining()) {
      return DataLossError(fmt::format("{} at byte {}: needs {} bytes, file has {} left (truncated?)",
                                       what, offset_, n, remaining()));
    }
    return Status::Ok();
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
};

}  // namespace tf
