#include "kernels/flash_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/check.h"
#include "tensor/float16.h"

namespace tf {
namespace {

// The element `slot` rows into a block's rows.
const void* AtSlot(const void* rows, int64_t slot, int64_t stride, DType type) {
  return static_cast<const uint8_t*>(rows) + static_cast<size_t>(slot * stride) * KvElementBytes(type);
}

// Splits the window [j0, j0 + width) at block boundaries (block sizes from 1
// to well past the window all work: a large block gives one run).
void SplitWindow(const FlashKv& kv, int64_t j0, int64_t width, int64_t k_stride, int64_t v_stride,
                 std::vector<FlashKeyRun>* runs) {
  runs->clear();
  const int64_t block_size = kv.view.block_size();
  const DType type = kv.view.type();
  for (int64_t off = 0; off < width;) {
    const int64_t index = (j0 + off) / block_size, slot = (j0 + off) % block_size;
    const int64_t count = std::min(block_size - slot, width - off);
    const void* keys = AtSlot(kv.view.KeyRows(index, kv.segment), slot, k_stride, type);
    const void* values = kv.values_in_keys ? keys : AtSlot(kv.view.ValueRows(index, kv.segment), slot, v_stride, type);
    runs->push_back({off, count, keys, values});
    off += count;
  }
}

// Converts `dim` leading bf16 elements of each run's rows (`stride` apart)
// into staging rows [width][dim].
void StageBf16(const KernelTable& kernels, std::span<const FlashKeyRun> runs, bool values, int64_t stride, int dim,
               float* staging) {
  for (const FlashKeyRun& run : runs) {
    const uint16_t* src = static_cast<const uint16_t*>(values ? run.values : run.keys);
    for (int64_t jj = 0; jj < run.count; ++jj) kernels.bf16_to_f32(dim, src + jj * stride, staging + (run.offset + jj) * dim);
  }
}

// Scales row i's scores, folds them into the running max/sum, rescales the
// row's output so far, and leaves exp(score - max) in place (0 for keys
// the row may not see).
void OnlineSoftmaxRow(const KernelTable& kernels, float* scores, int64_t width, int64_t visible, float scale,
                      float* row_max, float* row_sum, float* out, int dim_v) {
  float window_max = -std::numeric_limits<float>::infinity();
  for (int64_t jj = 0; jj < visible; ++jj) {
    scores[jj] *= scale;
    window_max = std::max(window_max, scores[jj]);
  }
  const float new_max = std::max(*row_max, window_max);
  if (new_max > *row_max) {
    const float correction = std::exp(*row_max - new_max);  // 0 on the first visible window
    *row_sum *= correction;
    for (int d = 0; d < dim_v; ++d) out[d] *= correction;
    *row_max = new_max;
  }
  if (visible > 0) *row_sum += kernels.exp_sum(scores, visible, new_max);
  for (int64_t jj = visible; jj < width; ++jj) scores[jj] = 0.0f;
}

// scores [rows][width] = q [rows][dim_qk] * keys [width][dim_qk]^T. A float32
// cache is read in place, one GEMM per run writing its columns; a bf16 one
// is staged once for the whole window.
void WindowScores(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows,
                  std::span<const FlashKeyRun> runs, int64_t width, int64_t k_stride, FlashScratch* s) {
  if (kv.view.type() == DType::kF32) {
    for (const FlashKeyRun& run : runs)
      kernels.sgemm_nt(rows.n_rows, run.count, kv.dim_qk, rows.q, kv.dim_qk, static_cast<const float*>(run.keys),
                       k_stride, s->scores.data() + run.offset, width);
    return;
  }
  s->k.resize(static_cast<size_t>(width) * kv.dim_qk);
  StageBf16(kernels, runs, false, k_stride, kv.dim_qk, s->k.data());
  kernels.sgemm_nt(rows.n_rows, width, kv.dim_qk, rows.q, kv.dim_qk, s->k.data(), kv.dim_qk, s->scores.data(), width);
}

// out [rows][dim_v] += p [rows][width] * values [width][dim_v], with p the
// window's softmax numerators left in the scores.
void WindowValues(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows,
                  std::span<const FlashKeyRun> runs, int64_t width, int64_t v_stride, FlashScratch* s) {
  if (kv.view.type() == DType::kF32) {
    for (const FlashKeyRun& run : runs)
      kernels.sgemm(rows.n_rows, kv.dim_v, run.count, s->scores.data() + run.offset, width,
                    static_cast<const float*>(run.values), v_stride, rows.out, kv.dim_v, true);
    return;
  }
  // MLA's values are the keys' leading elements: the staged keys serve.
  const float* values = s->k.data();
  int64_t ld = kv.dim_qk;
  if (!kv.values_in_keys) {
    s->v.resize(static_cast<size_t>(width) * kv.dim_v);
    StageBf16(kernels, runs, true, v_stride, kv.dim_v, s->v.data());
    values = s->v.data();
    ld = kv.dim_v;
  }
  kernels.sgemm(rows.n_rows, kv.dim_v, width, s->scores.data(), width, values, ld, rows.out, kv.dim_v, true);
}

}  // namespace

void FlashAttend(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows, FlashScratch* s) {
  if (rows.n_rows == 0) return;
  int64_t n_keys = 0;
  for (int i = 0; i < rows.n_rows; ++i) n_keys = std::max(n_keys, rows.last_pos[i] + 1);
  TF_CHECK(n_keys <= kv.view.capacity()) << "attention: rows see past the cached keys";
  const size_t n_rows = static_cast<size_t>(rows.n_rows);
  const int64_t k_stride = kv.view.key_stride();
  const int64_t v_stride = kv.values_in_keys ? k_stride : kv.view.value_stride();
  s->scores.resize(n_rows * static_cast<size_t>(std::min(kFlashKeyBlock, n_keys)));
  s->row_max.assign(n_rows, -std::numeric_limits<float>::infinity());
  s->row_sum.assign(n_rows, 0.0f);
  std::fill(rows.out, rows.out + n_rows * kv.dim_v, 0.0f);
  for (int64_t j0 = 0; j0 < n_keys; j0 += kFlashKeyBlock) {
    const int64_t width = std::min(kFlashKeyBlock, n_keys - j0);
    SplitWindow(kv, j0, width, k_stride, v_stride, &s->runs);
    WindowScores(kernels, kv, rows, s->runs, width, k_stride, s);
    for (size_t i = 0; i < n_rows; ++i) {
      const int64_t visible = std::clamp<int64_t>(rows.last_pos[i] + 1 - j0, 0, width);
      OnlineSoftmaxRow(kernels, s->scores.data() + i * width, width, visible, kv.scale, &s->row_max[i],
                       &s->row_sum[i], rows.out + i * kv.dim_v, kv.dim_v);
    }
    WindowValues(kernels, kv, rows, s->runs, width, v_stride, s);
  }
  for (size_t i = 0; i < n_rows; ++i) {
    const float inv = s->row_sum[i] > 0.0f ? 1.0f / s->row_sum[i] : 0.0f;
    float* o = rows.out + i * kv.dim_v;
    for (int d = 0; d < kv.dim_v; ++d) o[d] *= inv;
  }
}

}  // namespace tf
