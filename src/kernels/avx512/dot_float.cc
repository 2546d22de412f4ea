// AVX-512 dot products for float weights against float32 activations:
// 16 lanes, two accumulators, a scalar tail.
#include "kernels/avx512/avx512_intrinsics.h"
#include "tensor/float16.h"

namespace tf::TF_AVX512_NS {
namespace {

inline __m512 LoadF16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 LoadBf16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

// The tail (n % 16) goes through `scalar`, the reference conversion.
template <typename T, typename Load, typename Scalar>
float DotGeneric(int64_t n, const T* a, const float* b, Load load, Scalar scalar) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(load(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(load(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load(a + i), _mm512_loadu_ps(b + i), acc0);
  float sum = ReduceAdd(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += scalar(a[i]) * b[i];
  return sum;
}

}  // namespace

float DotF32(int64_t n, const void* w, const void* x) {
  return DotGeneric(
      n, static_cast<const float*>(w), static_cast<const float*>(x),
      [](const float* p) { return _mm512_loadu_ps(p); }, [](float v) { return v; });
}

float DotF16(int64_t n, const void* w, const void* x) {
  return DotGeneric(n, static_cast<const uint16_t*>(w), static_cast<const float*>(x), LoadF16,
                    [](uint16_t h) { return Fp16ToFloat(h); });
}

float DotBF16(int64_t n, const void* w, const void* x) {
  return DotGeneric(n, static_cast<const uint16_t*>(w), static_cast<const float*>(x), LoadBf16,
                    [](uint16_t h) { return Bf16ToFloat(h); });
}

float DotF32Plain(int64_t n, const float* a, const float* b) { return DotF32(n, a, b); }

void AxpyF32(int64_t n, float a, const float* x, float* y) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void Bf16ToF32(int64_t n, const uint16_t* x, float* y) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, LoadBf16(x + i));
  for (; i < n; ++i) y[i] = Bf16ToFloat(x[i]);
}

}  // namespace tf::TF_AVX512_NS
