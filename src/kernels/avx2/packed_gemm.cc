// AVX2 matrix kernels over packed Q4_0/Q8_0 weights (tensor/packed_blocks.h)
// and the BlockQ8S activation quantizer they read.
//
// Per 8-row group and block column, each of the 8 four-weight chunks meets a
// broadcast of the 4 matching activation bytes in one maddubs; lane r of
// the int32 result is row r's partial dot, so one conversion and one FMA per
// block serve all 8 rows. Up to kTile tokens share one unpacking of the
// weights; decode (one token) streams each weight byte exactly once.
#include <algorithm>
#include <cstring>

#include "kernels/avx2/avx2_common.h"
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/packed_gemm_driver.h"
#include "tensor/float16.h"
#include "tensor/packed_blocks.h"

namespace tf::avx2 {
namespace {

constexpr int kTile = 4;  // tokens per pass over a group's weights

inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Weights are unpacked one 32-byte chunk (two 4-weight groups) at a time
// and met by every token of the tile, so only the int16 partial sums of the
// T tokens stay live. |pair| <= 2 * 15 * 127, so 8 pairs still fit int16.
// The block then costs madd, convert, FMA (folding Q4_0's "- 8" via
// d_sum8) and FMA per token.
template <int T>
void Q4_0x8Tile(int64_t n_blocks, const BlockQ4_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i s16[T];
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * j));
      const __m256i lo = _mm256_and_si256(raw, mask);                          // weights 4j..4j+3
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);    // weights 4j+16..4j+19
      for (int t = 0; t < T; ++t) {
        const int8_t* xq = x[t][b].qs;
        const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, Broadcast4(xq + 4 * j)),
                                           _mm256_maddubs_epi16(hi, Broadcast4(xq + 4 * j + 16)));
        s16[t] = j == 0 ? p : _mm256_add_epi16(s16[t], p);
      }
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < T; ++t) {
      const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[t], ones));
      const __m256 v = _mm256_fmsub_ps(dot, _mm256_broadcast_ss(&x[t][b].d), _mm256_broadcast_ss(&x[t][b].d_sum8));
      acc[t] = _mm256_fmadd_ps(dw, v, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

// The 4-token tile written out with named accumulators: GCC keeps the
// arrays of the generic tile on the stack (a store per update).
inline __m256i Q4Pair(__m256i lo, __m256i hi, const int8_t* xq, int j) {
  return _mm256_add_epi16(_mm256_maddubs_epi16(lo, Broadcast4(xq + 4 * j)),
                          _mm256_maddubs_epi16(hi, Broadcast4(xq + 4 * j + 16)));
}

inline __m256 Q4Finish(__m256i s16, __m256 dw, const BlockQ8S& xb, __m256 acc) {
  const __m256 dot = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
  return _mm256_fmadd_ps(dw, _mm256_fmsub_ps(dot, _mm256_broadcast_ss(&xb.d), _mm256_broadcast_ss(&xb.d_sum8)), acc);
}

void Q4_0x8Tile4(int64_t n_blocks, const BlockQ4_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const BlockQ8S *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * j));
      const __m256i lo = _mm256_and_si256(raw, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
      s0 = _mm256_add_epi16(s0, Q4Pair(lo, hi, x0[b].qs, j));
      s1 = _mm256_add_epi16(s1, Q4Pair(lo, hi, x1[b].qs, j));
      s2 = _mm256_add_epi16(s2, Q4Pair(lo, hi, x2[b].qs, j));
      s3 = _mm256_add_epi16(s3, Q4Pair(lo, hi, x3[b].qs, j));
      // Keeps GCC from reassociating the sums across j, which hoists all
      // 32 products and spills them to the stack.
      __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3));
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    a0 = Q4Finish(s0, dw, x0[b], a0);
    a1 = Q4Finish(s1, dw, x1[b], a1);
    a2 = Q4Finish(s2, dw, x2[b], a2);
    a3 = Q4Finish(s3, dw, x3[b], a3);
  }
  _mm256_storeu_ps(y, a0);
  _mm256_storeu_ps(y + y_stride, a1);
  _mm256_storeu_ps(y + 2 * y_stride, a2);
  _mm256_storeu_ps(y + 3 * y_stride, a3);
}

inline __m256 Q8Finish(__m256i s32, __m256 dw, const BlockQ8S& xb, __m256 acc) {
  return _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_broadcast_ss(&xb.d)), _mm256_cvtepi32_ps(s32), acc);
}

// maddubs wants one unsigned operand: |w| (once per block, shared by the
// tile's tokens) against x carrying w's sign, one vpsignb per token.
inline __m256i Q8Product(__m256i abs_w, __m256i wq, const int8_t* xq) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(Broadcast4(xq), wq)), _mm256_set1_epi16(1));
}

void Q8_0x8Tile4(int64_t n_blocks, const BlockQ8_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  const BlockQ8S *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (int g = 0; g < 8; ++g) {
      const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * g));
      const __m256i abs_w = _mm256_sign_epi8(wq, wq);
      s0 = _mm256_add_epi32(s0, Q8Product(abs_w, wq, x0[b].qs + 4 * g));
      s1 = _mm256_add_epi32(s1, Q8Product(abs_w, wq, x1[b].qs + 4 * g));
      s2 = _mm256_add_epi32(s2, Q8Product(abs_w, wq, x2[b].qs + 4 * g));
      s3 = _mm256_add_epi32(s3, Q8Product(abs_w, wq, x3[b].qs + 4 * g));
      __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3));  // see Q4_0x8Tile4
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    a0 = Q8Finish(s0, dw, x0[b], a0);
    a1 = Q8Finish(s1, dw, x1[b], a1);
    a2 = Q8Finish(s2, dw, x2[b], a2);
    a3 = Q8Finish(s3, dw, x3[b], a3);
  }
  _mm256_storeu_ps(y, a0);
  _mm256_storeu_ps(y + y_stride, a1);
  _mm256_storeu_ps(y + 2 * y_stride, a2);
  _mm256_storeu_ps(y + 3 * y_stride, a3);
}

// Decode for Q8_0: two groups per pass, as for Q4_0.
void Q8_0x8PairOneToken(int64_t n_blocks, const BlockQ8_0x8* wa, const BlockQ8_0x8* wb, const BlockQ8S* x,
                        float* y) {
  __m256 acc_a = _mm256_setzero_ps(), acc_b = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i sa = _mm256_setzero_si256(), sb = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
      const __m256i xv = Broadcast4(x[b].qs + 4 * g);
      const __m256i ax = _mm256_sign_epi8(xv, xv);
      const __m256i ra = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wa[b].qs + 32 * g));
      const __m256i rb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs + 32 * g));
      sa = _mm256_add_epi32(sa, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(ra, xv)), _mm256_set1_epi16(1)));
      sb = _mm256_add_epi32(sb, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(rb, xv)), _mm256_set1_epi16(1)));
      __asm__("" : "+x"(sa), "+x"(sb));
    }
    const __m256 xd = _mm256_broadcast_ss(&x[b].d);
    acc_a = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wa[b].d))), xd),
                            _mm256_cvtepi32_ps(sa), acc_a);
    acc_b = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].d))), xd),
                            _mm256_cvtepi32_ps(sb), acc_b);
  }
  _mm256_storeu_ps(y, acc_a);
  _mm256_storeu_ps(y + kPackRows, acc_b);
}

// Decode (one token): two groups (16 rows) per pass give the core two
// independent streams of work per activation broadcast.
void Q4_0x8PairOneToken(int64_t n_blocks, const BlockQ4_0x8* wa, const BlockQ4_0x8* wb, const BlockQ8S* x,
                        float* y) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc_a = _mm256_setzero_ps(), acc_b = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    __m256i sa = _mm256_setzero_si256(), sb = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i xl = Broadcast4(x[b].qs + 4 * j), xh = Broadcast4(x[b].qs + 4 * j + 16);
      const __m256i ra = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wa[b].qs + 32 * j));
      const __m256i rb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb[b].qs + 32 * j));
      sa = _mm256_add_epi16(sa, _mm256_add_epi16(
                                    _mm256_maddubs_epi16(_mm256_and_si256(ra, mask), xl),
                                    _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(ra, 4), mask), xh)));
      sb = _mm256_add_epi16(sb, _mm256_add_epi16(
                                    _mm256_maddubs_epi16(_mm256_and_si256(rb, mask), xl),
                                    _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(rb, 4), mask), xh)));
      __asm__("" : "+x"(sa), "+x"(sb));  // no reassociation across j (see Q4_0x8Tile4)
    }
    const __m256 xd = _mm256_broadcast_ss(&x[b].d), xs = _mm256_broadcast_ss(&x[b].d_sum8);
    const __m256 va = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(sa, ones)), xd, xs);
    const __m256 vb = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(sb, ones)), xd, xs);
    acc_a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wa[b].d))), va, acc_a);
    acc_b = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb[b].d))), vb, acc_b);
  }
  _mm256_storeu_ps(y, acc_a);
  _mm256_storeu_ps(y + kPackRows, acc_b);
}

template <int T>
void Q8_0x8Tile(int64_t n_blocks, const BlockQ8_0x8* w, const BlockQ8S* const* x, float* y, int64_t y_stride) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].d)));
    for (int t = 0; t < T; ++t) {
      const BlockQ8S& xb = x[t][b];
      __m256i s32 = _mm256_setzero_si256();
      for (int g = 0; g < 8; ++g) {
        // maddubs wants one unsigned operand: |x| against w carrying x's sign.
        const __m256i xv = Broadcast4(xb.qs + 4 * g);
        const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * g));
        const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(xv, xv), _mm256_sign_epi8(wq, xv));
        s32 = _mm256_add_epi32(s32, _mm256_madd_epi16(pairs, ones));
      }
      acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(xb.d)), _mm256_cvtepi32_ps(s32), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * y_stride, acc[t]);
}

// The kernel traits the shared driver (kernels/packed_gemm_driver.h) runs:
// the hand-written 4-token tiles where GCC's generic ones spill.
struct Q4Kernel : packed_gemm::KernelShape<BlockQ4_0x8, /*kPairs=*/true, kTile> {
  template <int T>
  static void Tile(int64_t nb, const Block* w, const BlockQ8S* const* x, float* y, int64_t s) {
    if constexpr (T == 4) {
      Q4_0x8Tile4(nb, w, x, y, s);
    } else {
      Q4_0x8Tile<T>(nb, w, x, y, s);
    }
  }
  static void DecodePair(int64_t nb, const Block* a, const Block* b, const BlockQ8S* x, float* y) {
    Q4_0x8PairOneToken(nb, a, b, x, y);
  }
};

struct Q8Kernel : packed_gemm::KernelShape<BlockQ8_0x8, /*kPairs=*/true, kTile> {
  template <int T>
  static void Tile(int64_t nb, const Block* w, const BlockQ8S* const* x, float* y, int64_t s) {
    if constexpr (T == 4) {
      Q8_0x8Tile4(nb, w, x, y, s);
    } else {
      Q8_0x8Tile<T>(nb, w, x, y, s);
    }
  }
  static void DecodePair(int64_t nb, const Block* a, const Block* b, const BlockQ8S* x, float* y) {
    Q8_0x8PairOneToken(nb, a, b, x, y);
  }
};

}  // namespace

void GemmQ4_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q4Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

void GemmQ8_0x8(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride,
                int64_t n_tokens, float* y, int64_t y_stride) {
  packed_gemm::Gemm<Q8Kernel>(k, w, n_groups, act, act_stride, n_tokens, y, y_stride);
}

// Same values as the scalar QuantizeRowQ8S: x * (1 / d) rounded to nearest
// even (the default rounding mode, as lrintf), d rounded through fp16.
void QuantizeQ8S(const float* x, void* y, int64_t n) {
  auto* out = static_cast<BlockQ8S*>(y);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v[j]));
    }
    const float d = HorizontalMax(amax) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[i].d = Fp16ToFloat(FloatToFp16(d));
    const __m256 scale = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) q[j] = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], scale));
    const __m256i sum32 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    out[i].d_sum8 = 8.0f * out[i].d * static_cast<float>(HorizontalSumI32(sum32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[i].qs), PackBytes(q[0], q[1], q[2], q[3]));
  }
}

}  // namespace tf::avx2
