// Weight memory a model owns besides the mmap'd file: float32 copies of
// small vectors stored in other types, and packed (row-interleaved) copies
// of the matrices the fast kernels read. Lives as long as the model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>

namespace tf {

class WeightArena {
 public:
  // n floats, zeroed; the pointer stays valid for the arena's lifetime.
  float* NewFloats(size_t n) { return floats_.emplace_back(n).data(); }

  // n bytes aligned for vector loads (contents undefined); nullptr when
  // the memory is not available.
  uint8_t* NewBytes(size_t n) {
    void* p = std::aligned_alloc(kAlignment, (n + kAlignment - 1) / kAlignment * kAlignment);
    if (p == nullptr) return nullptr;
    buffers_.emplace_back(static_cast<uint8_t*>(p));
    packed_bytes_ += n;
    return static_cast<uint8_t*>(p);
  }
  // Bytes held in packed copies (reported as the model's extra memory).
  size_t packed_bytes() const { return packed_bytes_; }

 private:
  static constexpr size_t kAlignment = 64;
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::deque<std::vector<float>> floats_;  // deque: pointers stay valid
  std::vector<std::unique_ptr<uint8_t, Free>> buffers_;
  size_t packed_bytes_ = 0;
};

}  // namespace tf
