#include "kernels/matmul.h"

#include <algorithm>
#include <vector>
#include <cstring>

namespace tf {
namespace {

// Tokens handled together per weight row: their activations stay in L1/L2
// while the row is reused.
constexpr int64_t kTokenTile = 16;
// Output rows per parallel chunk (keeps chunks cache-line friendly).
constexpr int64_t kRowGrain = 16;

// Converts x into the activation format; returns a pointer to row 0 and
// the byte stride between rows.
const uint8_t* PrepareActivations(const KernelTable& kernels, DType act_type, const float* x,
                                  int64_t n_tokens, int64_t k, MatmulScratch* scratch,
                                  ThreadPool* pool, size_t* row_bytes) {
  if (act_type == DType::kF32) {
    *row_bytes = static_cast<size_t>(k) * sizeof(float);
    return reinterpret_cast<const uint8_t*>(x);
  }
  *row_bytes = *RowBytes(act_type, k);
  scratch->act.resize(*row_bytes * static_cast<size_t>(n_tokens));
  QuantizeRowFn quantize = kernels.quantize[static_cast<size_t>(act_type)];
  uint8_t* out = scratch->act.data();
  const size_t stride = *row_bytes;
  pool->ParallelFor(n_tokens, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize(x + t * k, out + t * stride, k);
  });
  return out;
}

}  // namespace

bool MatMulSupports(const KernelTable& kernels, DType type) {
  const WeightKernel& wk = kernels.ForWeight(type);
  if (wk.vec_dot == nullptr) return false;
  return wk.act_type == DType::kF32 || kernels.quantize[static_cast<size_t>(wk.act_type)] != nullptr;
}

void MatMul(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens,
            float* y, int64_t y_stride, MatmulScratch* scratch, ThreadPool* pool) {
  const int64_t k = w.ne[0];
  const int64_t m = w.ne[1];
  const WeightKernel& wk = kernels.ForWeight(w.type);
  TF_CHECK(wk.vec_dot != nullptr) << "no kernel for weight type " << DTypeName(w.type);
  size_t act_row_bytes = 0;
  const uint8_t* act = PrepareActivations(kernels, wk.act_type, x, n_tokens, k, scratch, pool, &act_row_bytes);
  const size_t w_row_bytes = w.row_bytes();
  const VecDotFn dot = wk.vec_dot;
  pool->ParallelFor(m, kRowGrain, [&](int64_t row_begin, int64_t row_end) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
      const int64_t t1 = std::min(n_tokens, t0 + kTokenTile);
      for (int64_t r = row_begin; r < row_end; ++r) {
        const uint8_t* w_row = w.data + static_cast<size_t>(r) * w_row_bytes;
        for (int64_t t = t0; t < t1; ++t) {
          y[t * y_stride + r] = dot(k, w_row, act + static_cast<size_t>(t) * act_row_bytes);
        }
      }
    }
  });
}

}  // namespace tf

