// Y = X * W^T for a weight matrix in any supported type: the workhorse of
// every linear layer. Activations are converted once into the format the
// weight type's dot product wants (float32, Q8_0, Q8_1 or Q8_K), then output
// rows are split across the thread pool; each weight row is read once per
// call and reused for every token of the batch.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "tensor/tensor_view.h"

namespace tf {

// Scratch memory reused across calls (activations in quantized form).
struct MatmulScratch {
  std::vector<uint8_t> act;
};

// w: [M rows of K] (a 2-D view); x: [n_tokens][K] float32; y: [n_tokens][M]
// with row stride `y_stride` (>= M) floats. The weight type must be
// supported by `kernels` (checked when the model is loaded).
void MatMul(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens,
            float* y, int64_t y_stride, MatmulScratch* scratch, ThreadPool* pool);

// Whether MatMul can use weights of this type.
bool MatMulSupports(const KernelTable& kernels, DType type);

}  // namespace tf
