// Y = X * W^T for weight matrices of any supported type: the workhorse of
// every linear layer. Activations are converted once into the format the
// weight's kernel reads (float32, Q8_0, Q8_1, Q8_K, or BlockQ8S for packed
// weights); output rows are then dealt to the thread pool in chunks that
// threads claim as they finish, so both cores end together even when one
// is slowed by something else. Each weight byte is read from memory once
// per call: tokens are processed in cache-sized chunks against one chunk of
// rows at a time.
#pragma once

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
    const float* x = nullptr;  // the input converted (nullptr: slot free)
    ActFormat format = ActFormat::kF32;
    std::vector<uint8_t> bytes;
  };
  std::vector<Activations> act;
  size_t act_used = 0;
  std::vector<std::vector<float>> tiles;  // [thread]
};

// One weight applied to an input: w [M rows of K] (2-D view), y
// [n_tokens][y_stride] floats with y_stride >= M. x/n_tokens: this job's
// own input [n_tokens][K]; when x is nullptr the call's shared input.
struct MatMulJob {
  TensorView w;
  float* y = nullptr;
  int64_t y_stride = 0;
  const float* x = nullptr;
  int64_t n_tokens = 0;
};

// out = silu(gate . x) * (up . x) for one input (see MatMulSiluGate).
struct GatedJob {
  TensorView gate, up;
  const float* x = nullptr;  // [n_tokens][K]
  int64_t n_tokens = 0;
  float* out = nullptr;      // [n_tokens][out_stride]
  int64_t out_stride = 0;
};

// x: [n_tokens][K] float32. The weight types must be supported by `kernels`
// (checked when the model is loaded).
void MatMul(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens, float* y,
            int64_t y_stride, MatmulScratch* scratch, ThreadPool* pool);

// Several weights in one parallel region (Q, K and V against one input;
// the experts of a MoE layer or the heads of MLA's projections against
// their own inputs): each input converted once, one synchronization.
// Jobs without their own x use `x` / `n_tokens`.
void MatMulMany(const KernelTable& kernels, std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens,
                MatmulScratch* scratch, ThreadPool* pool);

// out[t][i] = silu(gate_i . x_t) * (up_i . x_t): the gated feed-forward's
// first half without writing gate and up to memory. out: [n_tokens][out_stride].
void MatMulSiluGate(const KernelTable& kernels, const TensorView& gate, const TensorView& up, const float* x,
                    int64_t n_tokens, float* out, int64_t out_stride, MatmulScratch* scratch, ThreadPool* pool);
// The same for several gated pairs (the routed experts of a MoE layer) in
// one parallel region.
void MatMulSiluGateMany(const KernelTable& kernels, std::span<const GatedJob> jobs, MatmulScratch* scratch,
                        ThreadPool* pool);

// Whether MatMul can use weights of this type.
bool MatMulSupports(const KernelTable& kernels, DType type);

}  // namespace tf
