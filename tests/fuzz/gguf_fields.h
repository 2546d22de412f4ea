// Where the integer fields of a GGUF file are: a walker written apart from
// the reader (so the fuzzer does not inherit the reader's assumptions) that
// records the offset and width of every count, length, type, dimension and
// offset it passes, stopping quietly at the first thing it cannot follow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace tf::fuzz {

struct GgufField {
  size_t offset;
  size_t width;  // 4 or 8
};

class GgufWalker {
 public:
  explicit GgufWalker(std::span<const uint8_t> b) : b_(b) {}
  std::vector<GgufField> fields;

  bool Int(size_t width, uint64_t* out) {
    if (pos_ + width > b_.size()) return false;
    uint64_t v = 0;
    std::memcpy(&v, b_.data() + pos_, width);
    fields.push_back({pos_, width});
    pos_ += width;
    *out = v;
    return true;
  }
  bool Skip(uint64_t n) {
    if (n > b_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  bool String() {
    uint64_t len;
    return Int(8, &len) && Skip(len);
  }
  bool Value(uint32_t type, int depth) {
    static constexpr uint8_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) return String();
    if (type == 9) {
      uint64_t inner, count;
      if (depth > 2 || !Int(4, &inner) || !Int(8, &count)) return false;
      for (uint64_t i = 0; i < count && i < 64; ++i) {
        if (!Value(static_cast<uint32_t>(inner), depth + 1)) return false;
      }
      return true;  // fields of the first elements are enough
    }
    return type < std::size(kSizes) && Skip(kSizes[type]);
  }
  void Walk() {
    uint64_t magic_version, tensors, kvs, v;
    if (!Skip(4) || !Int(4, &magic_version) || !Int(8, &tensors) || !Int(8, &kvs)) return;
    for (uint64_t i = 0; i < kvs && i < 4096; ++i) {
      if (!String() || !Int(4, &v) || !Value(static_cast<uint32_t>(v), 0)) return;
    }
    for (uint64_t i = 0; i < tensors && i < 4096; ++i) {
      uint64_t n_dims;
      if (!String() || !Int(4, &n_dims)) return;
      for (uint64_t d = 0; d < n_dims && d < 8; ++d) {
        if (!Int(8, &v)) return;
      }
      if (!Int(4, &v) || !Int(8, &v)) return;
    }
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

inline std::vector<GgufField> FindGgufFields(std::span<const uint8_t> bytes) {
  GgufWalker w(bytes);
  w.Walk();
  return std::move(w.fields);
}

}  // namespace tf::fuzz
