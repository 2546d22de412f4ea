// Scalar reference kernels: obviously correct, slow. Every faster kernel is
// tested against these.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace tf::reference {

float DotF32(int64_t n, const void* w, const void* x);
float DotF16(int64_t n, const void* w, const void* x);
float DotBF16(int64_t n, const void* w, const void* x);
float DotQ4_0(int64_t n, const void* w, const void* x);
float DotQ4_1(int64_t n, const void* w, const void* x);
float DotQ5_0(int64_t n, const void* w, const void* x);
float DotQ5_1(int64_t n, const void* w, const void* x);
float DotQ8_0(int64_t n, const void* w, const void* x);
float DotQ4_K(int64_t n, const void* w, const void* x);
float DotQ5_K(int64_t n, const void* w, const void* x);
float DotQ6_K(int64_t n, const void* w, const void* x);

double ProbeInt8Ops(int64_t iters);
double ProbeFp32Ops(int64_t iters);
uint64_t ProbeRead(const uint8_t* p, size_t n);
void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc, bool accumulate);
void SgemmNT(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc);
float ExpSum(float* x, int64_t n, float shift);
float DotF32Plain(int64_t n, const float* a, const float* b);
void AxpyF32(int64_t n, float a, const float* x, float* y);
float DotF32Bf16(int64_t n, const float* a, const uint16_t* b);
void AxpyBf16(int64_t n, float a, const uint16_t* x, float* y);
void Bf16ToF32(int64_t n, const uint16_t* x, float* y);

// Packed weights (packed_blocks.h) x BlockQ8S activations; see PackedGemmFn.
void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
// Packed K-quants x Q8_K activations.
void GemmQ4_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ5_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ6_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);

// KernelTable::row_axpy for one weight type (instantiated for every type
// the scalar table computes with).
template <DType kType>
void RowAxpy(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride);

void QuantizeQ8_0(const float* x, void* y, int64_t n);
void QuantizeQ8_1(const float* x, void* y, int64_t n);
void QuantizeQ8_K(const float* x, void* y, int64_t n);
void QuantizeBF16(const float* x, void* y, int64_t n);

}  // namespace tf::reference
