// Byte layouts of the GGUF quantization blocks, bit-exact with the files.
// All multi-byte fields are little-endian; half-precision scales are raw
// IEEE fp16 bits (see float16.h).
#pragma once

#include <cstdint>

namespace tf {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;     // super-block of the K-quants
inline constexpr int kKScaleBytes = 12;  // 8 six-bit scales + 8 six-bit mins

#pragma pack(push, 1)

// x = d * (q - 8); q in [0, 15]; low nibbles hold elements 0..15, high 16..31.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};

// x = d * q + m; q in [0, 15].
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_1 / 2];
};

// x = d * (q - 16); q = nibble | (bit j of qh) << 4.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};

// x = d * q + m; q = nibble | (bit j of qh) << 4.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};

// x = d * q; q in [-127, 127].
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};

// Activation format: s = d * sum(q).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_1];
};

// 8 sub-blocks of 32; x = d * scale_j * q - dmin * min_j; q in [0, 15].
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with a fifth bit per element in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// 16 sub-blocks of 16; x = d * scale_j * (q - 32); q = 4 low bits | 2 high bits.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Activation format for K-quant dot products: x = d * q; bsums are the sums
// of each group of 16 q's.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks sub-block j's 6-bit scale and min from the 12 packed bytes of a
// Q4_K/Q5_K block: j < 4 use the low 6 bits of bytes j and j+4; j >= 4 take
// 4 bits from byte j+4 and their top 2 bits from bytes j-4 and j.
static inline void UnpackKScaleMin(int j, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
    *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

// Inverse of UnpackKScaleMin for all 8 sub-blocks (values must be < 64).
static inline void PackKScaleMin(const uint8_t scales[8], const uint8_t mins[8], uint8_t packed[12]) {
  for (int j = 0; j < 4; ++j) {
    packed[j] = (scales[j] & 63) | ((scales[j + 4] >> 4) << 6);
    packed[j + 4] = (mins[j] & 63) | ((mins[j + 4] >> 4) << 6);
    packed[j + 8] = (scales[j + 4] & 0x0F) | ((mins[j + 4] & 0x0F) << 4);
  }
}

}  // namespace tf
