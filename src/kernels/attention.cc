#include "kernels/attention.h"

#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/kv_row_math.h"
#include "kernels/ops.h"

namespace tf {

void CausalAttention(const KernelTable& kernels, const AttentionShape& s, const float* q, int64_t n_query,
                     int64_t start_pos, std::span<const void* const> k_rows,
                     std::span<const void* const> v_rows, float* out, ThreadPool* pool) {
  const KvRowMath rows(kernels, s.kv_type);
  TF_CHECK(static_cast<int64_t>(k_rows.size()) >= start_pos + n_query) << "attention: KV shorter than query";
  const int group = s.n_head / s.n_kv_head;
  const int64_t n_items = n_query * s.n_head;
  pool->ParallelFor(n_items, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(start_pos + n_query));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / s.n_head;
      const int h = static_cast<int>(item % s.n_head);
      const int kv_head = h / group;
      const float* qh = q + t * s.q_stride + static_cast<int64_t>(h) * s.head_dim_qk;
      const int64_t n_ctx = start_pos + t + 1;
      for (int64_t p = 0; p < n_ctx; ++p) {
        scores[p] = rows.Dot(s.head_dim_qk, qh, rows.Advance(k_rows[p], kv_head * s.k_head_stride)) * s.scale;
      }
      Softmax(scores.data(), n_ctx);
      float* oh = out + t * s.out_stride + static_cast<int64_t>(h) * s.head_dim_v;
      std::memset(oh, 0, sizeof(float) * s.head_dim_v);
      for (int64_t p = 0; p < n_ctx; ++p) {
        rows.Axpy(s.head_dim_v, scores[p], rows.Advance(v_rows[p], kv_head * s.v_head_stride), oh);
      }
    }
  });
}

}  // namespace tf
