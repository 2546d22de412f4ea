// Converts weight matrices into the row-interleaved layouts of
// packed_blocks.h (and back, for tests). Q4_0, Q8_0, Q4_K, Q5_K and Q6_K
// have packed forms; other types are computed from their file layout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace tf {

// Whether `type` is one of the K-quants with a packed layout (Q4_K, Q5_K,
// Q6_K: 256-weight super-blocks, Q8_K activations).
bool IsPackedKQuant(DType type);

// Whether a [n_rows x k] matrix of `type` can be packed.
bool CanPack(DType type, int64_t k, int64_t n_rows);

// Packs n_rows rows (a multiple of kPackRows) of k weights from the file
// layout at `rows` into `out` (the same number of bytes).
void PackRows(DType type, const uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* out);

// The inverse of PackRows.
void UnpackRows(DType type, const uint8_t* packed, int64_t k, int64_t n_rows, uint8_t* rows);

// Quantizes n floats (a multiple of 32) into BlockQ8S activations.
void QuantizeRowQ8S(const float* x, void* y, int64_t n);

}  // namespace tf
