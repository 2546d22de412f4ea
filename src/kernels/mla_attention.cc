#include "kernels/mla_attention.h"

#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/kv_row_math.h"
#include "kernels/ops.h"

namespace tf {

void MlaAttention(const KernelTable& kernels, const MlaShape& s, const float* q_latent, const float* q_rope,
                  int64_t n_query, int64_t start_pos, std::span<const void* const> kv_rows, float* out,
                  ThreadPool* pool) {
  const KvRowMath rows(kernels, s.kv_type);
  TF_CHECK(static_cast<int64_t>(kv_rows.size()) >= start_pos + n_query) << "MLA: KV shorter than query";
  const int64_t n_items = n_query * s.n_head;
  pool->ParallelFor(n_items, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(start_pos + n_query));
    for (int64_t item = begin; item < end; ++item) {
      const int h = static_cast<int>(item % s.n_head);
      const int64_t t = item / s.n_head;
      const float* ql = q_latent + h * s.latent_head_stride + t * s.kv_lora;
      const float* qr = q_rope + t * s.q_rope_token_stride + h * s.q_rope_head_stride;
      const int64_t n_ctx = start_pos + t + 1;
      for (int64_t p = 0; p < n_ctx; ++p) {
        const void* row = kv_rows[p];
        scores[p] = (rows.Dot(s.kv_lora, ql, row) + rows.Dot(s.n_rot, qr, rows.Advance(row, s.kv_lora))) * s.scale;
      }
      Softmax(scores.data(), n_ctx);
      float* o = out + h * s.latent_head_stride + t * s.kv_lora;
      std::memset(o, 0, sizeof(float) * s.kv_lora);
      for (int64_t p = 0; p < n_ctx; ++p) rows.Axpy(s.kv_lora, scores[p], kv_rows[p], o);
    }
  });
}

}  // namespace tf
