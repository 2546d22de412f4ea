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

// 256-bit and 512-bit spellings of what a tile does. A 256-bit register
// holds one group's 8 rows (`b` is ignored); a 512-bit one holds group a's
// rows in its low half and b's in its high half.
struct Ops256 {
  using F = __m256;
  using I = __m256i;
  static I Load(const void* a, const void*) { return _mm256_loadu_si256(static_cast<const __m256i*>(a)); }
  static F Scales(const uint16_t* a, const uint16_t*) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a)));
  }
  static I Bytes(uint8_t v) { return _mm256_set1_epi8(static_cast<char>(v)); }
  static I And(I a, I b) { return _mm256_and_si256(a, b); }
  static I Xor(I a, I b) { return _mm256_xor_si256(a, b); }
  static I Shift4(I a) { return _mm256_srli_epi16(a, 4); }
  static I Broadcast(const int8_t* p) { return Broadcast4(p); }
  static I Dp(I acc, I a, I b) { return _mm256_dpbusd_epi32(acc, a, b); }
  static F Cvt(I a, I b) { return _mm256_cvtepi32_ps(_mm256_add_epi32(a, b)); }
  static F Fms(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }
  static F Fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F Set(float v) { return _mm256_set1_ps(v); }
  static F Zero() { return _mm256_setzero_ps(); }
  static void Store(float* y, F v) { _mm256_storeu_ps(y, v); }
};
struct Ops512 {
  using F = __m512;
  using I = __m512i;
  static I Load(const void* a, const void* b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(a))),
                              _mm256_loadu_si256(static_cast<const __m256i*>(b)), 1);
  }
  static F Scales(const uint16_t* a, const uint16_t* b) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
  }
  static I Bytes(uint8_t v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  static I And(I a, I b) { return _mm512_and_si512(a, b); }
  static I Xor(I a, I b) { return _mm512_xor_si512(a, b); }
  static I Shift4(I a) { return _mm512_srli_epi16(a, 4); }
  static I Broadcast(const int8_t* p) { return Broadcast4x16(p); }
  static I Dp(I acc, I a, I b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static F Cvt(I a, I b) { return _mm512_cvtepi32_ps(_mm512_add_epi32(a, b)); }
  static F Fms(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
  static F Fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F Set(float v) { return _mm512_set1_ps(v); }
  static F Zero() { return _mm512_setzero_ps(); }
  static void Store(float* y, F v) { _mm512_storeu_ps(y, v); }
};

// The 8 weight registers of one block: Q4_0's low nibbles (weights 4j..4j+3
// of every row) then high nibbles (16 + 4j..), Q8_0's bytes + 128.
template <typename Ops>
inline void Unpack(const BlockQ4_0x8& a, const BlockQ4_0x8& b, typename Ops::I* q) {
  const typename Ops::I mask = Ops::Bytes(0x0F);
  for (int j = 0; j < 4; ++j) {
    const typename Ops::I raw = Ops::Load(a.qs + 32 * j, b.qs + 32 * j);
    q[j] = Ops::And(raw, mask);
    q[j + 4] = Ops::And(Ops::Shift4(raw), mask);
  }
}
template <typename Ops>
inline void Unpack(const BlockQ8_0x8& a, const BlockQ8_0x8& b, typename Ops::I* q) {
  const typename Ops::I bias = Ops::Bytes(0x80);
  for (int g = 0; g < 8; ++g) q[g] = Ops::Xor(Ops::Load(a.qs + 32 * g, b.qs + 32 * g), bias);
}

// What comes off each block's dot product, in units of the activation's
// d_sum8: Q4_0's "- 8", and the "+ 128" of the biased Q8_0 weights.
inline constexpr float ExcessScale(const BlockQ4_0x8*) { return 1.0f; }
inline constexpr float ExcessScale(const BlockQ8_0x8*) { return 16.0f; }

// The per-token step every tile shares, the same per row at either width:
// sum of q[g] . x[4g..4g+4) over the 8 weight registers of a block in two
// chains (halving vpdpbusd's latency on the critical path), then
// acc += dw * (dot * d - excess * d_sum8).
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

template <typename Block>
inline void PrefetchBlock(const Block* p) {
  const char* bytes = reinterpret_cast<const char*>(p);
  for (size_t off = 0; off < sizeof(Block); off += 64) __builtin_prefetch(bytes + off, 0, 3);
}

// T tokens against one group (Ops256: wb unused) or two (Ops512), one
// unpacking of each block for all of them; y[t * y_stride + row].
template <typename Ops, typename Block, int T>
void TileBody(int64_t n_blocks, const Block* wa, const Block* wb, const BlockQ8S* const* x, float* y,
              int64_t y_stride) {
  constexpr float excess = ExcessScale(static_cast<const Block*>(nullptr));
  typename Ops::F acc[T];
  for (int t = 0; t < T; ++t) acc[t] = Ops::Zero();
  // Several tokens: the next unit's weights (the next group, or pair:
  // contiguous after these) at the same block, one unit ahead, so DRAM
  // streams while this unit computes (without it a tile waited on the
  // weights from DRAM: Q4_0 x 8 tokens 219 -> 294 GOPS on a Zen 4 core).
  // One token streams faster without (the hardware prefetcher keeps up).
  const int64_t ahead = (wa == wb ? 1 : 2) * n_blocks;
  for (int64_t b = 0; b < n_blocks; ++b) {
    if constexpr (T > 1) {
      PrefetchBlock(wa + b + ahead);
      if (wa != wb) PrefetchBlock(wb + b + ahead);
    }
    const typename Ops::F dw = Ops::Scales(wa[b].d, wb[b].d);
    typename Ops::I q[8];
    Unpack<Ops>(wa[b], wb[b], q);
    for (int t = 0; t < T; ++t) acc[t] = BlockStep<Ops>(q, x[t][b], excess, dw, acc[t]);
  }
  for (int t = 0; t < T; ++t) Ops::Store(y + t * y_stride, acc[t]);
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
    TileBody<Ops256, Block, T>(nb, w, w, x, y, s);
  }
  template <int T>
  static void PairTile(int64_t nb, const Block* a, const Block* b, const BlockQ8S* const* x, float* y, int64_t s) {
    TileBody<Ops512, Block, T>(nb, a, b, x, y, s);
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
