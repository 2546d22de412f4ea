// Machine-limit probes for AVX-512 (tokenfab bench): vpdpbusd (64 byte
// multiply-adds per 512-bit instruction), 512-bit FMA, 512-bit loads.
#include "kernels/avx512/avx512_intrinsics.h"

namespace tf::TF_AVX512_NS {

double ProbeInt8Ops(int64_t iters) {
  constexpr int kChains = 10;
  __m512i acc[kChains];
  // Accumulator chains: each vpdpbusd depends on the previous one of its
  // chain only, so throughput, not latency, is measured.
  const __m512i a = _mm512_set1_epi8(1);
  const __m512i b = _mm512_set1_epi8(static_cast<char>((iters & 1) + 1));
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  }
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_epi32(sum, acc[c]);
  volatile int sink = _mm_cvtsi128_si32(_mm512_castsi512_si128(sum));
  (void)sink;
  return 2.0 * 64.0 * kChains * static_cast<double>(iters);
}

double ProbeFp32Ops(int64_t iters) {
  constexpr int kChains = 10;
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999f);
  const __m512 b = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_ps(sum, acc[c]);
  volatile float sink = ReduceAdd(sum);
  (void)sink;
  return 2.0 * 16.0 * kChains * static_cast<double>(iters);
}

uint64_t ProbeRead(const uint8_t* p, size_t n) {
  __m512i acc[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  for (size_t i = 0; i + 128 <= n; i += 128) {
    acc[0] = _mm512_xor_si512(acc[0], _mm512_loadu_si512(p + i));
    acc[1] = _mm512_xor_si512(acc[1], _mm512_loadu_si512(p + i + 64));
  }
  const __m512i x = _mm512_xor_si512(acc[0], acc[1]);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm512_castsi512_si128(x)));
}

}  // namespace tf::TF_AVX512_NS
