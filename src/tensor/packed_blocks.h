// Row-interleaved ("packed") weight layouts made at load time for the fast
// matrix kernels, and the activation format they read. Packing never changes
// a value: a packed group holds exactly the bytes of kPackRows consecutive
// rows, reordered so that one 32-byte vector carries 4 consecutive weights
// of each of the 8 rows. After an 8-bit multiply-add, lane r of the result
// then belongs to row r, so one float conversion and one FMA serve 8 rows,
// and one broadcast of 4 activation bytes serves them all.
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
static_assert(sizeof(BlockQ8S) == 40);

}  // namespace tf
