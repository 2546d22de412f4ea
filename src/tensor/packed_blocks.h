// Row-interleaved ("packed") weight layouts made at load time for the fast
// matrix kernels, and the activation format they read. Packing never changes
// a value: a packed group holds exactly the bytes of kPackRows consecutive
// rows, reordered so that one 32-byte vector carries 4 consecutive weights
// of each of the 8 rows. After an 8-bit multiply-add, lane r of the result
// then belongs to row r, so one float conversion and one FMA serve 8 rows,
// and one broadcast of 4 activation bytes serves them all.
//
// The K-quants' packed blocks are laid out differently (levels split into
// nibbles and high-bit fields, sub-block scales per row) but hold the same
// bits; their kernels read Q8_K activations, whose 16-weight sums (bsums)
// take off Q6_K's "- 32" and Q4_K/Q5_K's mins.
//
// Packed matrices have the same size as the original ones (8 rows of
// blocks = one packed block per block column), so row r's group starts at
// byte r * row_bytes in both.
#pragma once

#include <cstdint>

#include "tensor/quant_blocks.h"
#include "tensor/tensor_view.h"

namespace tf {

inline constexpr int kPackRows = 8;
static_assert(kPackRows == kPackedGroupRows);

#pragma pack(push, 1)

// 8 rows x 32 weights of Q4_0. qs[32 * j + 4 * r + b] is byte 4 * j + b of
// row r's original block: low nibble weight 4j+b, high nibble weight 4j+b+16.
struct BlockQ4_0x8 {
  uint16_t d[kPackRows];
  uint8_t qs[kPackRows * kQK4_0 / 2];
};

// 8 rows x 32 weights of Q8_0. qs[32 * g + 4 * r + b] is weight 4g+b of row r.
struct BlockQ8_0x8 {
  uint16_t d[kPackRows];
  int8_t qs[kPackRows * kQK8_0];
};

// 8 rows x 256 weights of Q6_K, as 8 groups of 32 weights per row. In group
// g, weight w = 16h + 4j + b (h: which 16-weight sub-block, j: 0..3, b:
// 0..3) of row r is the 6-bit level q (0..63; the value is q - 32):
//   low 4 bits:  groups[g].ql[32 * j + 4 * r + b], low nibble if h = 0, high if h = 1
//   high 2 bits: bits 2j..2j+1 of groups[g].qh[32 * h + 4 * r + b]
// and its scale is scales[16 * g + 2 * r + h] (the file's scales[2g + h] of
// row r). So one 32-byte load of ql gives, for 8 rows, 4 consecutive weights
// of each sub-block (the Q4_0x8 arrangement), the two qh loads of a group
// give the high bits of all four such loads, and a 16-byte load of scales
// gives both sub-blocks' scales of 8 rows in the lanes a madd needs.
struct BlockQ6_Kx8 {
  uint16_t d[kPackRows];
  int8_t scales[kPackRows * kQK_K / 16];
  struct Group {
    uint8_t ql[kPackRows * 16];
    uint8_t qh[kPackRows * 8];
  } groups[kQK_K / 32];
};

// The 6-bit scales and mins of 8 rows' 8 sub-blocks (Q4_K/Q5_K): value
// v = 16 * g + 2 * r + m (m = 0: the scale, 1: the min of sub-block g of
// row r) keeps its low 4 bits in nibble v / 64 of lo[v % 64] and its high 2
// bits in bits 2 (v / 32)..2 (v / 32) + 1 of hi[v % 32]. So four vector
// operations on three 32-byte loads give all 128 values in order, and a
// group's 16 values (scale, min of each row) sit in the lanes a madd needs.
struct KScaleMinx8 {
  uint8_t lo[64];
  uint8_t hi[32];
};

// 8 rows x 256 weights of Q4_K. A sub-block (32 weights) is a group: its
// 4-bit levels are qs[g][32 * j + 4 * r + b], low nibble weight 4j+b, high
// nibble weight 4j+b+16 (the Q4_0x8 arrangement).
struct BlockQ4_Kx8 {
  uint16_t d[kPackRows];
  uint16_t dmin[kPackRows];
  KScaleMinx8 scales;
  uint8_t qs[kQK_K / 32][kPackRows * 16];
};

// 8 rows x 256 weights of Q5_K: Q4_Kx8's arrangement, and the fifth bit of
// weight 4j+b of row r in bit j of groups[g].qh[4 * r + b], of weight
// 4j+b+16 in bit 4+j.
struct BlockQ5_Kx8 {
  uint16_t d[kPackRows];
  uint16_t dmin[kPackRows];
  KScaleMinx8 scales;
  struct Group {
    uint8_t qs[kPackRows * 16];
    uint8_t qh[kPackRows * 4];
  } groups[kQK_K / 32];
};

// Activation block for the packed kernels: Q8_0's values (same rounding,
// same fp16-rounded scale) with the scale widened to float, and
// d_sum8 = 8 * d * sum(qs), which folds Q4_0's "- 8" into the one FMA that
// scales the block (exact in float: d has 11 significant bits, |sum| < 2^12).
struct BlockQ8S {
  float d;
  float d_sum8;
  int8_t qs[kQK8_0];
};

#pragma pack(pop)

static_assert(sizeof(BlockQ4_0x8) == kPackRows * sizeof(BlockQ4_0));
static_assert(sizeof(BlockQ8_0x8) == kPackRows * sizeof(BlockQ8_0));
static_assert(sizeof(BlockQ6_Kx8) == kPackRows * sizeof(BlockQ6_K));
static_assert(sizeof(BlockQ4_Kx8) == kPackRows * sizeof(BlockQ4_K));
static_assert(sizeof(BlockQ5_Kx8) == kPackRows * sizeof(BlockQ5_K));
static_assert(sizeof(BlockQ8S) == 40);

}  // namespace tf
