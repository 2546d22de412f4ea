// AVX-512 VNNI matrix kernels over packed Q4_0/Q8_0 weights: the layout of
// the AVX2 kernels and the shared driver (kernels/packed_gemm_driver.h),
// with vpdpbusd accumulating the byte products straight into int32 (no
// int16 stage, no separate widening multiply). Two 8-row groups go through
// one 512-bit register (lanes 0-7 the first group's rows, 8-15 the
// second's), so each 4-byte activation broadcast feeds 16 rows, and a pass
// over the pair's weights serves 8 tokens: 8 unpacked weight registers and 8
// accumulators leave room in the 32 zmm registers. The single-group tiles
// (a chunk's odd last group) do the same arithmetic per row in 256 bits.
//
// Q8_0: vpdpbusd multiplies unsigned by signed bytes and AVX-512 has no
// vpsignb, so the weights go in as w + 128 (w ^ 0x80, once per block for
// every token) and the excess 128 * sum(x) comes off with the activation
// scale: d * sum(w x) = d * sum((w + 128) x) - 16 * d_sum8, exact before the
// one rounding of the fused multiply-subtract.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/avx512/avx512_intrinsics.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/packed_blocks.h"

namespace tf::TF_AVX512_NS {
namespace {

constexpr int kTile = 4;       // tokens per single-group pass
constexpr int kPairTile = 8;   // tokens per two-group pass

inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m512i Broadcast4x16(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Rows of group a in the low half, b in the high half.
inline __m512i LoadPair(const uint8_t* a, const uint8_t* b) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), 1);
}

inline __m512 ScalesPair(const uint16_t* a, const uint16_t* b) {
  const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
                                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
  return _mm512_cvtph_ps(h);
}

// 256-bit and 512-bit spellings of the operations of BlockStep.
struct Ops256 {
  using F = __m256;
  using I = __m256i;
  static I Broadcast(const int8_t* p) { return Broadcast4(p); }
  static I Dp(I acc, I a, I b) { return _mm256_dpbusd_epi32(acc, a, b); }
  static F Cvt(I a, I b) { return _mm256_cvtepi32_ps(_mm256_add_epi32(a, b)); }
  static F Fms(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }
  static F Fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F Set(float v) { return _mm256_set1_ps(v); }
};
struct Ops512 {
  using F = __m512;
  using I = __m512i;
  static I Broadcast(const int8_t* p) { return Broadcast4x16(p); }
  static I Dp(I acc, I a, I b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static F Cvt(I a, I b) { return _mm512_cvtepi32_ps(_mm512_add_epi32(a, b)); }
  static F Fms(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
  static F Fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F Set(float v) { return _mm512_set1_ps(v); }
};

// The per-token step every tile shares, the same per row at either width:
// sum of q[g] . x[4g..4g+4) over the 8 weight registers of a block in two
// chains (halving vpdpbusd's latency on the critical path), then
// acc += dw * (dot * d - excess). Q4_0's "- 8" is excess = d_sum8; Q8_0's
// "+ 128" is 16 * d_sum8.
template <typename Ops>
inline typename Ops::F BlockStep(const typename Ops::I* q, const BlockQ8S& xb, float excess_scale,
                                 typename Ops::F dw, typename Ops::F acc) {
  using I = typename Ops::I;
  I even = Ops::Dp(I{}, q[0], Ops::Broadcast(xb.qs));
  I odd = Ops::Dp(I{}, q[1], Ops::Broadcast(xb.qs + 4));
  for (int g = 2; g < 8; g += 2) {
    even = Ops::Dp(even, q[g], Ops::Broadcast(xb.qs + 4 * g));
    odd = Ops::Dp(odd, q[g + 1], Ops::Broadcast(xb.qs + 4 * g + 4));
  }
  const typename Ops::F v = Ops::Fms(Ops::Cvt(even, odd), Ops::Set(xb.d), Ops::Set(excess_scale * xb.d_sum8));
  return Ops::Fma(dw, v, acc);
}

// The 8 weight registers of one block: Q4_0's low nibbles (weights 4j..4j+3
// of every row) then high nibbles (16 + 4j..), Q8_0's bytes + 128.
inline void UnpackQ4(const BlockQ4_0x8& w, __m256i* q) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * j));
    q[j] = _mm256_and_si256(raw, mask);
    q[j + 4] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
  }
}
inline void UnpackQ4(const BlockQ4_0x8& a, const BlockQ4_0x8& b, __m512i* q) {
  const __m512i mask = _mm512_set1_epi8(0x0F);
  for (int j = 0; j < 4; ++j) {
    const __m512i raw = LoadPair(a.qs + 32 * j, b.qs + 32 * j);
    q[j] = _mm512_and_si512(raw, mask);
    q[j + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), mask);
  }
}
inline void UnpackQ8(const BlockQ8_0x8& w, __m256i* q) {
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int g = 0; g < 8; ++g) {
    q[g] = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * g)), bias);
  }
}
inline void UnpackQ8(const BlockQ8_0x8& a, const BlockQ8_0x8& b, __m512i* q) {
  const __m512i bias = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int g = 0; g < 8; ++g) {
    q[g] = _mm512_xor_si512(LoadPair(reinterpret_cast<const uint8_t*>(a.qs + 32 * g),
                                     reinterpret_cast<const uint8_t*>(b.qs + 32 * g)),
                            bias);
  }
}

constexpr float kQ4Excess = 1.0f;   // the "- 8" of Q4_0
constexpr float kQ8Excess = 16.0f;  // the "+ 128" of the biased Q8_0 weights

template <typename Block, int T>
void GroupTile(int64_t n_blocks, const Block* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  constexpr float excess = std::is_same_v<Block, BlockQ4_0x8> ? kQ4Excess : kQ8Excess;
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    __m256i q[8];
    if constexpr (std::is_same_v<Block, BlockQ4_0x8>) {
      UnpackQ4(w[b], q);
    } else {
      UnpackQ8(w[b], q);
    }
    for (int t = 0; t < T; ++t) acc[t] = BlockStep<Ops256>(q, x[t][b], excess, dw, acc[t]);
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

template <typename Block, int T>
void GroupPairTile(int64_t n_blocks, const Block* wa, const Block* wb, const BlockQ8S* const* x, float* y,
              int64_t y_stride) {
  constexpr float excess = std::is_same_v<Block, BlockQ4_0x8> ? kQ4Excess : kQ8Excess;
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m512 dw = ScalesPair(wa[b].d, wb[b].d);
    __m512i q[8];
    if constexpr (std::is_same_v<Block, BlockQ4_0x8>) {
      UnpackQ4(wa[b], wb[b], q);
    } else {
      UnpackQ8(wa[b], wb[b], q);
    }
    for (int t = 0; t < T; ++t) acc[t] = BlockStep<Ops512>(q, x[t][b], excess, dw, acc[t]);
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * y_stride, acc[t]);
}

// The kernel traits the shared driver (kernels/packed_gemm_driver.h) runs:
// pairs of groups for two tokens or more, single groups for a chunk's odd
// last one and for decode (one token), which streams weights: there the
// 512-bit pair pass measured slower than one 256-bit group at a time
// (docs/PERFORMANCE.md, issue 16).
template <typename BlockT>
struct PackedKernel : packed_gemm::KernelShape<BlockT, /*kPairs=*/false, kTile, kPairTile> {
  using Block = BlockT;
  template <int T>
  static void Tile(int64_t nb, const Block* w, const BlockQ8S* const* x, float* y, int64_t s) {
    GroupTile<Block, T>(nb, w, x, y, s);
  }
  template <int T>
  static void PairTile(int64_t nb, const Block* a, const Block* b, const BlockQ8S* const* x, float* y, int64_t s) {
    GroupPairTile<Block, T>(nb, a, b, x, y, s);
  }
};
using Q4Kernel = PackedKernel<BlockQ4_0x8>;
using Q8Kernel = PackedKernel<BlockQ8_0x8>;

}  // namespace

void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q4Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q8Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

}  // namespace tf::TF_AVX512_NS
