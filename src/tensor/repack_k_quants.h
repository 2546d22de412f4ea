// The K-quant halves of PackRows/UnpackRows (repack.h): Q4_K, Q5_K and Q6_K
// between their file layout and packed_blocks.h's BlockQ4_Kx8, BlockQ5_Kx8
// and BlockQ6_Kx8. Internal to tensor/.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace tf {

// n_rows (a multiple of 8) rows of k (a multiple of 256) weights; to_packed:
// rows -> packed, else packed -> rows. The untouched side is only read.
void ConvertKQuantRows(DType type, uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* packed, bool to_packed);

}  // namespace tf
