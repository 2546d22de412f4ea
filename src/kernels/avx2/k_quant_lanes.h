// 256-bit unpacking of the packed K-quant layouts (tensor/packed_blocks.h),
// shared by the AVX2 kernels and the AVX-512 kernels' 8-row bodies: each
// translation unit compiles its own copy (everything is static) with its
// own flags. Include after the ISA's intrinsics header.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tensor/packed_blocks.h"

namespace tf::k_quant_lanes {

static inline __m256i Broadcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Q6_K: field j (bits 2j..2j+1 of each byte) of the high bits moved to bits
// 4..5; the 16-bit shifts move bits across bytes only outside the 0x30 mask.
template <int J>
static inline __m256i HighBits(__m256i qh, __m256i mask) {
  if constexpr (J == 0) return _mm256_and_si256(_mm256_slli_epi16(qh, 4), mask);
  if constexpr (J == 1) return _mm256_and_si256(_mm256_slli_epi16(qh, 2), mask);
  if constexpr (J == 2) return _mm256_and_si256(qh, mask);
  if constexpr (J == 3) return _mm256_and_si256(_mm256_srli_epi16(qh, 2), mask);
}

// Q6_K: sub-block scales of group g as int16 lanes 2r+h (row r, sub-block h).
static inline __m256i Q6_KGroupScales(const BlockQ6_Kx8& w, int g) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales + 16 * g)));
}

// Q6_K: the levels of chunk J of a group: lo for the first sub-block's
// weights 4J..4J+3, hi for the second's, 8 rows each.
template <int J>
static inline void Q6_KLevels(const BlockQ6_Kx8::Group& group, __m256i qh0, __m256i qh1, __m256i* lo, __m256i* hi) {
  const __m256i nibble = _mm256_set1_epi8(0x0F), field = _mm256_set1_epi8(0x30);
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group.ql + 32 * J));
  *lo = _mm256_or_si256(_mm256_and_si256(raw, nibble), HighBits<J>(qh0, field));
  *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble), HighBits<J>(qh1, field));
}

// Q4_K/Q5_K: the 128 scale/min values of a block column, in order (v = 16g + 2r + m).
static inline void UnpackScaleMins(const KScaleMinx8& s, uint8_t* out) {
  const __m256i nibble = _mm256_set1_epi8(0x0F), field = _mm256_set1_epi8(0x30);
  const __m256i lo0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.lo));
  const __m256i lo1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.lo + 32));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.hi));
  const __m256i v[4] = {
      _mm256_or_si256(_mm256_and_si256(lo0, nibble), _mm256_and_si256(_mm256_slli_epi16(hi, 4), field)),
      _mm256_or_si256(_mm256_and_si256(lo1, nibble), _mm256_and_si256(_mm256_slli_epi16(hi, 2), field)),
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo0, 4), nibble), _mm256_and_si256(hi, field)),
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lo1, 4), nibble),
                      _mm256_and_si256(_mm256_srli_epi16(hi, 2), field)),
  };
  for (int i = 0; i < 4; ++i) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 * i), v[i]);
}

// Q4_K/Q5_K: int16 lanes 2r, 2r+1 of group g: (scale, min) of row r.
static inline __m256i GroupScaleMins(const uint8_t* values, int g) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values + 16 * g)));
}

// Q4_K/Q5_K: levels of chunk j of group g (lo: weights 4j..4j+3, hi:
// 4j+16..4j+19), with Q5_K's fifth bit (bit j, bit 4 + j of qh) at bit 4.
template <typename Packed>
static inline void K45Levels(const Packed& w, int g, int j, __m256i* lo, __m256i* hi) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const uint8_t* qs;
  if constexpr (std::is_same_v<Packed, BlockQ5_Kx8>) {
    qs = w.groups[g].qs;
  } else {
    qs = w.qs[g];
  }
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
  *lo = _mm256_and_si256(raw, nibble);
  *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nibble);
  if constexpr (std::is_same_v<Packed, BlockQ5_Kx8>) {
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.groups[g].qh));
    const __m128i shift_lo = _mm_cvtsi32_si128(4 - j), shift_hi = _mm_cvtsi32_si128(j);
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_sll_epi16(qh, shift_lo), bit4));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_srl_epi16(qh, shift_hi), bit4));
  }
}

}  // namespace tf::k_quant_lanes
