// A borrowed, read-only view of tensor data (typically inside the mmap of a
// GGUF file). Dimensions follow GGUF/ggml order: ne[0] is the contiguous row
// length, ne[1] the number of rows, ne[2] and ne[3] stack matrices (e.g. the
// experts of a MoE layer).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.h"
#include "tensor/dtype.h"

namespace tf {

inline constexpr int64_t kPackedGroupRows = 8;  // kPackRows of packed_blocks.h

struct TensorView {
  std::string_view name;
  DType type = DType::kF32;
  int n_dims = 0;
  std::array<int64_t, 4> ne = {1, 1, 1, 1};
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  // The same matrix in its row-interleaved layout (tensor/packed_blocks.h),
  // made at load time for the fast kernels; nullptr when there is none.
  // Row r's group starts at byte r * row_bytes() here as in `data`.
  const uint8_t* packed = nullptr;

  int64_t num_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  int64_t num_rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const { return nbytes / static_cast<size_t>(num_rows()); }
  const uint8_t* row(int64_t r) const {
    TF_DCHECK(r >= 0 && r < num_rows());
    return data + static_cast<size_t>(r) * row_bytes();
  }
  // The 2-D matrix `index` of a 3-D tensor: [ne[1] rows of ne[0]].
  TensorView Matrix(int64_t index) const {
    TF_DCHECK(index >= 0 && index < ne[2] * ne[3]);
    TensorView m = *this;
    m.n_dims = 2;
    m.ne = {ne[0], ne[1], 1, 1};
    m.nbytes = row_bytes() * static_cast<size_t>(ne[1]);
    m.data = data + static_cast<size_t>(index) * m.nbytes;
    if (packed != nullptr) m.packed = packed + static_cast<size_t>(index) * m.nbytes;
    return m;
  }
  // Rows [begin, begin + count) of a 2-D view, as a 2-D view.
  TensorView Rows(int64_t begin, int64_t count) const {
    TF_DCHECK(begin >= 0 && count >= 0 && begin + count <= num_rows());
    TensorView m = *this;
    m.n_dims = 2;
    m.ne = {ne[0], count, 1, 1};
    m.nbytes = row_bytes() * static_cast<size_t>(count);
    m.data = data + static_cast<size_t>(begin) * row_bytes();
    // A slice keeps its packed form only if it covers whole 8-row groups.
    const bool whole_groups = begin % kPackedGroupRows == 0 && count % kPackedGroupRows == 0;
    m.packed = (packed != nullptr && whole_groups) ? packed + static_cast<size_t>(begin) * row_bytes() : nullptr;
    return m;
  }
  bool valid() const { return data != nullptr; }
};

}  // namespace tf
