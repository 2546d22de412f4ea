// AVX2 kernel entry points (compiled with -mavx2 -mfma -mf16c).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tf::avx2 {

float DotF32(int64_t n, const void* w, const void* x);
float DotF16(int64_t n, const void* w, const void* x);
float DotBF16(int64_t n, const void* w, const void* x);
float DotQ4_0(int64_t n, const void* w, const void* x);
float DotQ8_0(int64_t n, const void* w, const void* x);
float DotQ4_K(int64_t n, const void* w, const void* x);
float DotQ5_K(int64_t n, const void* w, const void* x);
float DotQ6_K(int64_t n, const void* w, const void* x);
void DotQ6_Kx4(int64_t n, const void* w, const void* x, size_t x_stride, float* out);
void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ4_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ5_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void GemmQ6_Kx8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride);
void QuantizeQ8S(const float* x, void* y, int64_t n);
void QuantizeQ8_K(const float* x, void* y, int64_t n);
double ProbeInt8Ops(int64_t iters);
double ProbeFp32Ops(int64_t iters);
uint64_t ProbeRead(const uint8_t* p, size_t n);
void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc, bool accumulate);
void SgemmNT(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc);
float ExpSum(float* x, int64_t n, float shift);
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
void RowAxpyQ4_0(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride);
void RowAxpyQ8_0(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride);
void RowAxpyF32(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y, int64_t y_stride);
float DotF32Plain(int64_t n, const float* a, const float* b);
void AxpyF32(int64_t n, float a, const float* x, float* y);
float DotF32Bf16(int64_t n, const float* a, const uint16_t* b);
void AxpyBf16(int64_t n, float a, const uint16_t* x, float* y);
void Bf16ToF32(int64_t n, const uint16_t* x, float* y);

}  // namespace tf::avx2
