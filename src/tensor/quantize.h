// Scalar reference quantization of float32 rows into the GGUF block types.
// Used by `tokenfab synth`, by tests to build blocks, and as the reference
// for activation quantization in the kernels.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace tf {

// True for the types QuantizeRow can produce.
bool CanQuantize(DType type);

// n must be a multiple of the type's block size; dst holds RowBytes(type, n).
void QuantizeRow(DType type, const float* src, void* dst, int64_t n);

}  // namespace tf
