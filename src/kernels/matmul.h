// Y = X * W^T for weight matrices of any supported type: the workhorse of
// every linear layer. Activations are converted once into the format the
// weight's kernel reads (float32, Q8_0, Q8_1, Q8_K, or BlockQ8S for packed
// weights); output rows are then dealt to the thread pool in chunks that
// threads claim as they finish, so both cores end together even when one
// is slowed by something else. Each weight byte is read from memory once
// per call: tokens are processed in cache-sized chunks against one chunk of
// rows at a time.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "tensor/tensor_view.h"

namespace tf {

// Scratch memory reused across calls: activations in each format a call
// needs, and per-thread tiles of the fused gate/up kernel.
struct MatmulScratch {
  struct Activations {
    int format = -1;  // DType id, or kQ8SFormat
    std::vector<uint8_t> bytes;
  };
  std::array<Activations, 3> act;
  std::vector<std::vector<float>> tiles;  // [thread]
};

// One weight applied to the shared input: w [M rows of K] (2-D view), y
// [n_tokens][y_stride] floats with y_stride >= M.
struct MatMulJob {
  TensorView w;
  float* y = nullptr;
  int64_t y_stride = 0;
};

// x: [n_tokens][K] float32. The weight types must be supported by `kernels`
// (checked when the model is loaded).
void MatMul(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens, float* y,
            int64_t y_stride, MatmulScratch* scratch, ThreadPool* pool);

// Several weights with the same K against the same input in one parallel
// region (Q, K and V; a shared expert next to a routed one): one activation
// conversion, one synchronization.
void MatMulMany(const KernelTable& kernels, std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens,
                MatmulScratch* scratch, ThreadPool* pool);

// out[t][i] = silu(gate_i . x_t) * (up_i . x_t): the gated feed-forward's
// first half without writing gate and up to memory. out: [n_tokens][out_stride].
void MatMulSiluGate(const KernelTable& kernels, const TensorView& gate, const TensorView& up, const float* x,
                    int64_t n_tokens, float* out, int64_t out_stride, MatmulScratch* scratch, ThreadPool* pool);

// Whether MatMul can use weights of this type.
bool MatMulSupports(const KernelTable& kernels, DType type);

}  // namespace tf
