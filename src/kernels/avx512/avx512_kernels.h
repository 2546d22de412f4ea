// AVX-512 kernel entry points (compiled with -mavx512f/bw/vl/dq/vnni/bf16).
// What is not here falls back to the AVX2 kernels in the same table.
#pragma once

#include <cstdint>

namespace tf::avx512 {

float DotF32(int64_t n, const void* w, const void* x);
float DotF16(int64_t n, const void* w, const void* x);
float DotBF16(int64_t n, const void* w, const void* x);
float DotQ4_0(int64_t n, const void* w, const void* x);
float DotQ8_0(int64_t n, const void* w, const void* x);
float DotF32Plain(int64_t n, const float* a, const float* b);
void AxpyF32(int64_t n, float a, const float* x, float* y);

}  // namespace tf::avx512
