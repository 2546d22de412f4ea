// Scalar reference conversion of one row of any supported type to float32.
// This is the ground truth the fast kernels are tested against.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace tf {

// n must be a multiple of the type's block size; the type must be
// dequantizable (Traits(type).dequantizable).
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

}  // namespace tf
