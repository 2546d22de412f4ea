// Scalar reference of KernelTable::row_axpy: the row dequantized (in chunks
// of 256, a multiple of every block size) and added with each coefficient.
#include <algorithm>

#include "kernels/reference/reference_kernels.h"
#include "tensor/dequantize.h"

namespace tf::reference {

template <DType kType>
void RowAxpy(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride) {
  constexpr int64_t kChunk = 256;
  float row[kChunk];
  const auto* bytes = static_cast<const uint8_t*>(w);
  for (int64_t begin = 0; begin < k; begin += kChunk) {
    const int64_t len = std::min(kChunk, k - begin);
    DequantizeRow(kType, bytes + *RowBytes(kType, begin), row, len);
    for (int64_t t = 0; t < n; ++t) {
      const float coeff = a[t * a_stride];
      float* out = y + t * y_stride + begin;
      for (int64_t i = 0; i < len; ++i) out[i] += coeff * row[i];
    }
  }
}

template void RowAxpy<DType::kF32>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kF16>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kBF16>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ4_0>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ4_1>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ5_0>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ5_1>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ8_0>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ4_K>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ5_K>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);
template void RowAxpy<DType::kQ6_K>(int64_t, const void*, const float*, int64_t, int64_t, float*, int64_t);

}  // namespace tf::reference
