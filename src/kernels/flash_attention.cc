#include "kernels/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "tensor/float16.h"

namespace tf {
namespace {

// kb rows of `dim` floats, `ld` floats apart.
struct RowBlock {
  const float* data;
  int64_t ld;
};

// Rows j0 .. j0 + kb - 1 (from element `offset` of each) as float32. Used in
// place when they are float32 rows evenly spaced in memory (a cache block),
// else converted/gathered into `staging` ([kb][dim]).
RowBlock LoadRows(std::span<const void* const> rows, int64_t j0, int64_t kb, int64_t offset, int dim, DType type,
                  std::vector<float>* staging) {
  if (type == DType::kF32) {
    const float* first = static_cast<const float*>(rows[j0]);
    const int64_t ld = kb > 1 ? static_cast<const float*>(rows[j0 + 1]) - first : dim;
    bool even = ld >= dim;
    for (int64_t jj = 2; jj < kb && even; ++jj) even = static_cast<const float*>(rows[j0 + jj]) == first + jj * ld;
    if (even) return {first + offset, ld};
  }
  staging->resize(static_cast<size_t>(kb) * dim);
  for (int64_t jj = 0; jj < kb; ++jj) {
    float* dst = staging->data() + jj * dim;
    if (type == DType::kBF16) {
      const uint16_t* src = static_cast<const uint16_t*>(rows[j0 + jj]) + offset;
      for (int d = 0; d < dim; ++d) dst[d] = Bf16ToFloat(src[d]);
    } else {
      std::memcpy(dst, static_cast<const float*>(rows[j0 + jj]) + offset, static_cast<size_t>(dim) * sizeof(float));
    }
  }
  return {staging->data(), dim};
}

// Scales row i's scores, folds them into the running max/sum, rescales the
// row's output so far, and leaves exp(score - max) in place (0 for keys
// the row may not see).
void OnlineSoftmaxRow(const KernelTable& kernels, float* scores, int64_t kb, int64_t visible, float scale,
                      float* row_max, float* row_sum, float* out, int dim_v) {
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
  if (visible > 0) *row_sum += kernels.exp_sum(scores, visible, new_max);
  for (int64_t jj = visible; jj < kb; ++jj) scores[jj] = 0.0f;
}

}  // namespace

void FlashAttend(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows, FlashScratch* s) {
  if (rows.n_rows == 0) return;
  int64_t n_keys = 0;
  for (int i = 0; i < rows.n_rows; ++i) n_keys = std::max(n_keys, rows.last_pos[i] + 1);
  TF_CHECK(n_keys <= static_cast<int64_t>(kv.k_rows.size())) << "attention: rows see past the cached keys";
  const size_t n_rows = static_cast<size_t>(rows.n_rows);
  s->scores.resize(n_rows * kFlashKeyBlock);
  s->row_max.assign(n_rows, -std::numeric_limits<float>::infinity());
  s->row_sum.assign(n_rows, 0.0f);
  std::fill(rows.out, rows.out + n_rows * kv.dim_v, 0.0f);
  for (int64_t j0 = 0; j0 < n_keys; j0 += kFlashKeyBlock) {
    const int64_t kb = std::min(kFlashKeyBlock, n_keys - j0);
    const RowBlock keys = LoadRows(kv.k_rows, j0, kb, kv.k_offset, kv.dim_qk, kv.type, &s->k);
    // scores [rows][kb] = q [rows][dim_qk] * keys [kb][dim_qk]^T
    kernels.sgemm_nt(rows.n_rows, kb, kv.dim_qk, rows.q, kv.dim_qk, keys.data, keys.ld, s->scores.data(), kb);
    for (size_t i = 0; i < n_rows; ++i) {
      const int64_t visible = std::clamp<int64_t>(rows.last_pos[i] + 1 - j0, 0, kb);
      OnlineSoftmaxRow(kernels, s->scores.data() + i * kb, kb, visible, kv.scale, &s->row_max[i], &s->row_sum[i],
                       rows.out + i * kv.dim_v, kv.dim_v);
    }
    const RowBlock values = LoadRows(kv.v_rows, j0, kb, kv.v_offset, kv.dim_v, kv.type, &s->v);
    // out [rows][dim_v] += p [rows][kb] * values [kb][dim_v]
    kernels.sgemm(rows.n_rows, kv.dim_v, kb, s->scores.data(), kb, values.data, values.ld, rows.out, kv.dim_v, true);
  }
  for (size_t i = 0; i < n_rows; ++i) {
    const float inv = s->row_sum[i] > 0.0f ? 1.0f / s->row_sum[i] : 0.0f;
    float* o = rows.out + i * kv.dim_v;
    for (int d = 0; d < kv.dim_v; ++d) o[d] *= inv;
  }
}

}  // namespace tf
