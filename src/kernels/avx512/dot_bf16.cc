// AVX-512 BF16 dot product of bf16 weight rows against bf16 activations:
// vdpbf16ps multiplies 32 pairs of bf16 per instruction and adds each
// pair's two products into one float lane, twice the elements per FMA of
// widening the weights to float32 first. The activations are rounded to
// bf16 (to nearest even) when they are converted, once per token (what
// llama.cpp's AVX512_BF16 path does too); products of two bf16 values are
// exact in float32, so only the rounding of x and the order of the float
// sums differ from the float32-activation dot.
#include <cstring>

#include "kernels/avx512/avx512_intrinsics.h"
#include "tensor/float16.h"

namespace tf::TF_AVX512_NS {
namespace {

inline __m512bh LoadPairs(const uint16_t* p) {
  __m512bh v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace

float DotBF16Pairs(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_dpbf16_ps(acc0, LoadPairs(a + i), LoadPairs(b + i));
    acc1 = _mm512_dpbf16_ps(acc1, LoadPairs(a + i + 32), LoadPairs(b + i + 32));
  }
  for (; i + 32 <= n; i += 32) acc0 = _mm512_dpbf16_ps(acc0, LoadPairs(a + i), LoadPairs(b + i));
  float sum = ReduceAdd(_mm512_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += Bf16ToFloat(a[i]) * Bf16ToFloat(b[i]);
  return sum;
}

}  // namespace tf::TF_AVX512_NS
