// The intrinsics the AVX-512 kernels use. Normally the compiler's own; with
// TF_EMULATE_AVX512 (a test-only build) the same source compiles against
// SIMDe's portable AVX-512, so the kernels' logic is verified against the
// scalar reference even on CPUs without AVX-512. Kernels here avoid
// intrinsics SIMDe lacks (masked loads/stores, _mm512_reduce_*).
#pragma once

#if defined(TF_EMULATE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cstring>

#include "tensor/float16.h"

// Element-wise stand-ins for the few intrinsics Debian's SIMDe (0.7.4) lacks.
namespace tf::emulated {
static inline simde__m512 Cvtepi32Ps(simde__m512i a) {
  int32_t in[16];
  float out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(in[i]);
  return simde_mm512_loadu_ps(out);
}
static inline simde__m512i Cvtepu16Epi32(simde__m256i a) {
  uint16_t in[16];
  int32_t out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) out[i] = in[i];
  return simde_mm512_loadu_si512(out);
}
static inline simde__m512 CvtphPs(simde__m256i a) {
  uint16_t in[16];
  float out[16];
  std::memcpy(in, &a, sizeof(in));
  for (int i = 0; i < 16; ++i) out[i] = Fp16ToFloat(in[i]);
  return simde_mm512_loadu_ps(out);
}
static inline simde__m256 Extractf32x8Ps(simde__m512 a, int index) {
  float in[16];
  std::memcpy(in, &a, sizeof(in));
  return simde_mm256_loadu_ps(in + 8 * index);
}
}  // namespace tf::emulated
#define _mm512_cvtepi32_ps tf::emulated::Cvtepi32Ps
#define _mm512_cvtepu16_epi32 tf::emulated::Cvtepu16Epi32
#define _mm512_cvtph_ps tf::emulated::CvtphPs
#define _mm512_extractf32x8_ps tf::emulated::Extractf32x8Ps
#else
#include <immintrin.h>
#endif

#include "kernels/avx512/avx512_kernels.h"

namespace tf::TF_AVX512_NS {

static inline float ReduceAdd(__m512 v) {
  const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_movehdup_ps(q));
  return _mm_cvtss_f32(q);
}

}  // namespace tf::TF_AVX512_NS
