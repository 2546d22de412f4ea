// Machine-limit probes for AVX2 (tokenfab bench): the peak rate of the
// instructions the int8 and float kernels are built on, and a streaming
// read. Independent accumulator chains hide latency so only throughput
// counts.
#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"

namespace tf::avx2 {

// vpmaddubsw: 32 byte multiply-adds per instruction. Each chain feeds its
// product back in as the next unsigned operand, so no multiply can be
// hoisted or merged and only the multiplier's throughput counts.
double ProbeInt8Ops(int64_t iters) {
  constexpr int kChains = 10;
  __m256i acc[kChains];
  __m256i b = _mm256_set1_epi8(static_cast<char>(iters & 1));
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_epi8(static_cast<char>(c + 1));
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_maddubs_epi16(acc[c], b);
  }
  __m256i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_epi16(sum, acc[c]);
  volatile int sink = _mm256_extract_epi16(sum, 0);
  (void)sink;
  return 2.0 * 32.0 * kChains * static_cast<double>(iters);
}

// vfmadd231ps: 8 fused multiply-adds per instruction, 10 chains.
double ProbeFp32Ops(int64_t iters) {
  constexpr int kChains = 10;
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm256_add_ps(sum, acc[c]);
  volatile float sink = HorizontalSum(sum);
  (void)sink;
  return 2.0 * 8.0 * kChains * static_cast<double>(iters);
}

// Streams n bytes (a multiple of 128) through 256-bit loads.
uint64_t ProbeRead(const uint8_t* p, size_t n) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  for (size_t i = 0; i + 128 <= n; i += 128) {
    for (int c = 0; c < 4; ++c) {
      acc[c] = _mm256_xor_si256(acc[c], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32 * c)));
    }
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(acc[0], acc[1]), _mm256_xor_si256(acc[2], acc[3]));
  return static_cast<uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}

}  // namespace tf::avx2
