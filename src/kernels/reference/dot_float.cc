// Scalar reference dot products for float weights (F32, F16, BF16) against
// float32 activations, and the float helpers.
#include "kernels/reference/reference_kernels.h"

#include "tensor/float16.h"

namespace tf::reference {

float DotF32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

float DotF16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const float*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += Fp16ToFloat(a[i]) * b[i];
  return sum;
}

float DotBF16(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const float*>(x);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) sum += Bf16ToFloat(a[i]) * b[i];
  return sum;
}

float DotF32Plain(int64_t n, const float* a, const float* b) { return DotF32(n, a, b); }

void AxpyF32(int64_t n, float a, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float DotF32Bf16(int64_t n, const float* a, const uint16_t* b) { return DotBF16(n, b, a); }

void AxpyBf16(int64_t n, float a, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * Bf16ToFloat(x[i]);
}

void Bf16ToF32(int64_t n, const uint16_t* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = Bf16ToFloat(x[i]);
}

}  // namespace tf::reference
