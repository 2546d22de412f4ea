// AVX-512 kernel entry points (compiled with -mavx512f/bw/vl/dq/vnni/bf16).
// What is not here falls back to the AVX2 kernels in the same table.
#pragma once

#include <cstddef>
#include <cstdint>

// The emulated test build (TF_EMULATE_AVX512) compiles these same sources
// into their own namespace so both can live in one test binary.
#if defined(TF_EMULATE_AVX512)
#define TF_AVX512_NS avx512_emulated
#else
#define TF_AVX512_NS avx512
#endif

namespace tf {
struct KernelTable;
// Production: FillAvx512Kernels (kernel_table.h). Emulated build: this one.
void FillAvx512KernelsEmulated(KernelTable* table);
}  // namespace tf

namespace tf::TF_AVX512_NS {

float DotF32(int64_t n, const void* w, const void* x);
float DotF16(int64_t n, const void* w, const void* x);
float DotBF16(int64_t n, const void* w, const void* x);
// bf16 weights x bf16 activations (AVX512_BF16's vdpbf16ps).
float DotBF16Pairs(int64_t n, const void* w, const void* x);
float DotQ4_0(int64_t n, const void* w, const void* x);
float DotQ8_0(int64_t n, const void* w, const void* x);
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
double ProbeInt8Ops(int64_t iters);
double ProbeFp32Ops(int64_t iters);
uint64_t ProbeRead(const uint8_t* p, size_t n);
void Sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
           int64_t ldc, bool accumulate);
void SgemmNT(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
             int64_t ldc);
float DotF32Plain(int64_t n, const float* a, const float* b);
void AxpyF32(int64_t n, float a, const float* x, float* y);
void Bf16ToF32(int64_t n, const uint16_t* x, float* y);

}  // namespace tf::TF_AVX512_NS
