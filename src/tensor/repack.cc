#include "tensor/repack.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "tensor/float16.h"
#include "tensor/packed_blocks.h"
#include "tensor/repack_k_quants.h"

namespace tf {
namespace {

// Both packed layouts move 4-byte chunks: chunk c of row r's block goes to
// bytes [32c + 4r, 32c + 4r + 4) of the packed block's values.
struct PackGeometry {
  size_t block_bytes;  // one row's block in the file layout
  size_t qs_bytes;     // of which the values
  size_t qs_offset;    // where the values start (after the fp16 scale)
};

PackGeometry GeometryOf(DType type) {
  if (type == DType::kQ4_0) return {sizeof(BlockQ4_0), kQK4_0 / 2, offsetof(BlockQ4_0, qs)};
  TF_CHECK(type == DType::kQ8_0) << "no packed layout for " << DTypeName(type);
  return {sizeof(BlockQ8_0), kQK8_0, offsetof(BlockQ8_0, qs)};
}

// Moves one block column of a group between layouts (to_packed: file ->
// packed). `rows` points at the group's first row, at this block column.
void ConvertBlock(const PackGeometry& g, uint8_t* rows, size_t row_bytes, uint8_t* packed, bool to_packed) {
  const size_t packed_qs = kPackRows * sizeof(uint16_t);
  for (int r = 0; r < kPackRows; ++r) {
    uint8_t* row_block = rows + r * row_bytes;
    uint8_t* scale = packed + r * sizeof(uint16_t);
    if (to_packed) {
      std::memcpy(scale, row_block, sizeof(uint16_t));
    } else {
      std::memcpy(row_block, scale, sizeof(uint16_t));
    }
    for (size_t c = 0; c < g.qs_bytes / 4; ++c) {
      uint8_t* file_chunk = row_block + g.qs_offset + 4 * c;
      uint8_t* packed_chunk = packed + packed_qs + 32 * c + 4 * r;
      if (to_packed) {
        std::memcpy(packed_chunk, file_chunk, 4);
      } else {
        std::memcpy(file_chunk, packed_chunk, 4);
      }
    }
  }
}

void Convert(DType type, uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* packed, bool to_packed) {
  TF_CHECK(CanPack(type, k, n_rows)) << "cannot pack [" << n_rows << " x " << k << "] " << DTypeName(type);
  if (IsPackedKQuant(type)) {
    ConvertKQuantRows(type, rows, k, n_rows, packed, to_packed);
    return;
  }
  const PackGeometry g = GeometryOf(type);
  const int64_t n_blocks = k / 32;
  const size_t row_bytes = g.block_bytes * static_cast<size_t>(n_blocks);
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPackRows) {
    uint8_t* group_rows = rows + static_cast<size_t>(r0) * row_bytes;
    uint8_t* group_packed = packed + static_cast<size_t>(r0) * row_bytes;
    for (int64_t b = 0; b < n_blocks; ++b) {
      ConvertBlock(g, group_rows + b * g.block_bytes, row_bytes, group_packed + b * kPackRows * g.block_bytes,
                   to_packed);
    }
  }
}

}  // namespace

bool IsPackedKQuant(DType type) { return type == DType::kQ4_K || type == DType::kQ5_K || type == DType::kQ6_K; }

bool CanPack(DType type, int64_t k, int64_t n_rows) {
  if (k <= 0 || n_rows <= 0 || n_rows % kPackRows != 0) return false;
  if (type == DType::kQ4_0 || type == DType::kQ8_0) return k % 32 == 0;
  return IsPackedKQuant(type) && k % kQK_K == 0;
}

void PackRows(DType type, const uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* out) {
  // Convert only reads `rows` when packing.
  Convert(type, const_cast<uint8_t*>(rows), k, n_rows, out, true);
}

void UnpackRows(DType type, const uint8_t* packed, int64_t k, int64_t n_rows, uint8_t* rows) {
  Convert(type, rows, k, n_rows, const_cast<uint8_t*>(packed), false);
}

void QuantizeRowQ8S(const float* x, void* y, int64_t n) {
  auto* out = static_cast<BlockQ8S*>(y);
  for (int64_t i = 0; i < n / kQK8_0; ++i, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    // As Q8_0: the scale is rounded to fp16, the values use the exact one.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out[i].d = Fp16ToFloat(FloatToFp16(d));
    int32_t sum = 0;
    for (int j = 0; j < kQK8_0; ++j) {
      out[i].qs[j] = static_cast<int8_t>(std::lrintf(x[j] * id));
      sum += out[i].qs[j];
    }
    out[i].d_sum8 = 8.0f * out[i].d * static_cast<float>(sum);
  }
}

}  // namespace tf
