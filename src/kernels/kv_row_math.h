// Dot products and axpy against KV-cache rows of either element type
// (float32 or bf16), so the attention kernels are written once.
#pragma once

#include <cstdint>

#include "kernels/kernel_table.h"
#include "tensor/dtype.h"

namespace tf {

class KvRowMath {
 public:
  KvRowMath(const KernelTable& kernels, DType type) : k_(kernels), bf16_(type == DType::kBF16) {}

  float Dot(int64_t n, const float* q, const void* row) const {
    return bf16_ ? k_.dot_f32_bf16(n, q, static_cast<const uint16_t*>(row))
                 : k_.dot_f32(n, q, static_cast<const float*>(row));
  }
  // y += a * row
  void Axpy(int64_t n, float a, const void* row, float* y) const {
    if (bf16_) {
      k_.axpy_bf16(n, a, static_cast<const uint16_t*>(row), y);
    } else {
      k_.axpy_f32(n, a, static_cast<const float*>(row), y);
    }
  }
  // The row `elements` further on.
  const void* Advance(const void* row, int64_t elements) const {
    return static_cast<const uint8_t*>(row) + elements * (bf16_ ? 2 : 4);
  }

 private:
  const KernelTable& k_;
  bool bf16_;
};

}  // namespace tf
