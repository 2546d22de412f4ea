#include "kernels/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "tensor/float16.h"

namespace tf {
namespace {

// Row r of the cache, from element `offset`, as float32 into dst[0..n).
void LoadRow(const void* row, int64_t offset, int64_t n, DType type, float* dst) {
  if (type == DType::kBF16) {
    const uint16_t* src = static_cast<const uint16_t*>(row) + offset;
    for (int64_t d = 0; d < n; ++d) dst[d] = Bf16ToFloat(src[d]);
  } else {
    std::memcpy(dst, static_cast<const float*>(row) + offset, static_cast<size_t>(n) * sizeof(float));
  }
}

// Where the value rows of a block are for the PV product.
struct ValueBlock {
  const float* data;
  int64_t ld;  // floats between rows
};

// k_t[d][jj] = key (j0 + jj) element d. Values are used in place when they
// are float32 rows evenly spaced in memory (a cache block), else copied.
ValueBlock LoadBlock(const FlashKv& kv, int64_t j0, int64_t kb, FlashScratch* s) {
  float* key = s->v.data();  // staging: the value rows are loaded after the keys
  for (int64_t jj = 0; jj < kb; ++jj) {
    LoadRow(kv.k_rows[j0 + jj], kv.k_offset, kv.dim_qk, kv.type, key);
    for (int d = 0; d < kv.dim_qk; ++d) s->k_t[d * kb + jj] = key[d];
  }
  if (kv.type == DType::kF32) {
    const float* first = static_cast<const float*>(kv.v_rows[j0]);
    const int64_t ld = kb > 1 ? static_cast<const float*>(kv.v_rows[j0 + 1]) - first : kv.dim_v;
    bool even = ld >= kv.dim_v;
    for (int64_t jj = 2; jj < kb && even; ++jj) even = static_cast<const float*>(kv.v_rows[j0 + jj]) == first + jj * ld;
    if (even) return {first + kv.v_offset, ld};
  }
  for (int64_t jj = 0; jj < kb; ++jj) {
    LoadRow(kv.v_rows[j0 + jj], kv.v_offset, kv.dim_v, kv.type, s->v.data() + jj * kv.dim_v);
  }
  return {s->v.data(), kv.dim_v};
}

// Scales and masks row i's scores, folds them into the running max/sum,
// rescales the row's output so far, and leaves exp(score - max) in place.
void OnlineSoftmaxRow(float* scores, int64_t kb, int64_t visible, float scale, float* row_max, float* row_sum,
                      float* out, int dim_v) {
  float block_max = -std::numeric_limits<float>::infinity();
  for (int64_t jj = 0; jj < visible; ++jj) {
    scores[jj] *= scale;
    block_max = std::max(block_max, scores[jj]);
  }
  const float new_max = std::max(*row_max, block_max);
  if (new_max > *row_max) {
    const float correction = std::exp(*row_max - new_max);  // 0 on the first visible block
    *row_sum *= correction;
    for (int d = 0; d < dim_v; ++d) out[d] *= correction;
    *row_max = new_max;
  }
  float sum = 0.0f;
  for (int64_t jj = 0; jj < visible; ++jj) {
    scores[jj] = std::exp(scores[jj] - new_max);
    sum += scores[jj];
  }
  for (int64_t jj = visible; jj < kb; ++jj) scores[jj] = 0.0f;  // masked: future positions
  *row_sum += sum;
}

}  // namespace

void FlashAttend(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows, FlashScratch* s) {
  if (rows.n_rows == 0) return;
  int64_t n_keys = 0;
  for (int i = 0; i < rows.n_rows; ++i) n_keys = std::max(n_keys, rows.last_pos[i] + 1);
  TF_CHECK(n_keys <= static_cast<int64_t>(kv.k_rows.size())) << "attention: rows see past the cached keys";
  const size_t n_rows = static_cast<size_t>(rows.n_rows);
  s->k_t.resize(static_cast<size_t>(kv.dim_qk * kFlashKeyBlock));
  s->v.resize(static_cast<size_t>(std::max(kv.dim_v, kv.dim_qk) * kFlashKeyBlock));
  s->scores.resize(n_rows * kFlashKeyBlock);
  s->row_max.assign(n_rows, -std::numeric_limits<float>::infinity());
  s->row_sum.assign(n_rows, 0.0f);
  std::fill(rows.out, rows.out + n_rows * kv.dim_v, 0.0f);
  for (int64_t j0 = 0; j0 < n_keys; j0 += kFlashKeyBlock) {
    const int64_t kb = std::min(kFlashKeyBlock, n_keys - j0);
    const ValueBlock values = LoadBlock(kv, j0, kb, s);
    // scores [rows][kb] = q [rows][dim_qk] * k_t [dim_qk][kb]
    kernels.sgemm(rows.n_rows, kb, kv.dim_qk, rows.q, kv.dim_qk, s->k_t.data(), kb, s->scores.data(), kb, false);
    for (size_t i = 0; i < n_rows; ++i) {
      const int64_t visible = std::clamp<int64_t>(rows.last_pos[i] + 1 - j0, 0, kb);
      OnlineSoftmaxRow(s->scores.data() + i * kb, kb, visible, kv.scale, &s->row_max[i], &s->row_sum[i],
                       rows.out + i * kv.dim_v, kv.dim_v);
    }
    // out [rows][dim_v] += p [rows][kb] * v [kb][dim_v]
    kernels.sgemm(rows.n_rows, kv.dim_v, kb, s->scores.data(), kb, values.data, values.ld, rows.out, kv.dim_v, true);
  }
  for (size_t i = 0; i < n_rows; ++i) {
    const float inv = s->row_sum[i] > 0.0f ? 1.0f / s->row_sum[i] : 0.0f;
    float* o = rows.out + i * kv.dim_v;
    for (int d = 0; d < kv.dim_v; ++d) o[d] *= inv;
  }
}

}  // namespace tf
