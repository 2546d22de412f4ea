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

// kb rows starting at `first`, `stride` elements apart, as float32: in place
// for a float32 cache, else converted into `staging` ([kb][dim]).
RowBlock TileRows(const void* first, int64_t stride, int64_t kb, int dim, DType type, std::vector<float>* staging) {
  if (type == DType::kF32) return {static_cast<const float*>(first), stride};
  staging->resize(static_cast<size_t>(kb) * dim);
  const uint16_t* src = static_cast<const uint16_t*>(first);
  for (int64_t jj = 0; jj < kb; ++jj) {
    float* dst = staging->data() + jj * dim;
    for (int d = 0; d < dim; ++d) dst[d] = Bf16ToFloat(src[jj * stride + d]);
  }
  return {staging->data(), dim};
}

// The element `slot` rows into a block's rows.
const void* AtSlot(const void* rows, int64_t slot, int64_t stride, DType type) {
  return static_cast<const uint8_t*>(rows) + static_cast<size_t>(slot * stride) * KvElementBytes(type);
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
  TF_CHECK(n_keys <= kv.view.capacity()) << "attention: rows see past the cached keys";
  const size_t n_rows = static_cast<size_t>(rows.n_rows);
  const int64_t block_size = kv.view.block_size();
  const DType type = kv.view.type();
  const int64_t k_stride = kv.view.key_stride();
  const int64_t v_stride = kv.values_in_keys ? k_stride : kv.view.value_stride();
  s->scores.resize(n_rows * std::min(kFlashKeyBlock, block_size));
  s->row_max.assign(n_rows, -std::numeric_limits<float>::infinity());
  s->row_sum.assign(n_rows, 0.0f);
  std::fill(rows.out, rows.out + n_rows * kv.dim_v, 0.0f);
  int64_t kb = 0;
  for (int64_t j0 = 0; j0 < n_keys; j0 += kb) {
    // A tile of keys [j0, j0 + kb) inside one block of the table.
    const int64_t index = j0 / block_size, slot = j0 % block_size;
    kb = std::min({kFlashKeyBlock, block_size - slot, n_keys - j0});
    const void* key_rows = AtSlot(kv.view.KeyRows(index, kv.segment), slot, k_stride, type);
    const RowBlock keys = TileRows(key_rows, k_stride, kb, kv.dim_qk, type, &s->k);
    // scores [rows][kb] = q [rows][dim_qk] * keys [kb][dim_qk]^T
    kernels.sgemm_nt(rows.n_rows, kb, kv.dim_qk, rows.q, kv.dim_qk, keys.data, keys.ld, s->scores.data(), kb);
    for (size_t i = 0; i < n_rows; ++i) {
      const int64_t visible = std::clamp<int64_t>(rows.last_pos[i] + 1 - j0, 0, kb);
      OnlineSoftmaxRow(kernels, s->scores.data() + i * kb, kb, visible, kv.scale, &s->row_max[i], &s->row_sum[i],
                       rows.out + i * kv.dim_v, kv.dim_v);
    }
    // MLA's values are the keys' leading elements: the converted keys serve.
    const RowBlock values =
        kv.values_in_keys ? keys
                          : TileRows(AtSlot(kv.view.ValueRows(index, kv.segment), slot, v_stride, type), v_stride, kb,
                                     kv.dim_v, type, &s->v);
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
