// Multi-head latent attention (DeepSeek V2/V3) in its absorbed form: the
// cache holds, per token, the normalized KV latent c (kv_lora dims) and the
// shared rotary key (n_rot dims). With the key up-projection folded into the
// query (q_latent = W_kb^T q_nope per head), a score is
//   (q_latent . c + q_rope . k_rope) * scale
// and the head's output stays in latent space, o = sum_p softmax_p c_p; the
// value up-projection is applied afterwards, once per head.
#pragma once

#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "tensor/kv_view.h"

namespace tf {

struct MlaShape {
  int n_head = 0;
  int kv_lora = 0;  // latent dims
  int n_rot = 0;    // rotary key dims
  float scale = 1.0f;
  int64_t q_rope_token_stride = 0;  // floats between tokens in q_rope
  int64_t q_rope_head_stride = 0;   // floats between heads in q_rope
  int64_t latent_head_stride = 0;   // floats between heads in q_latent and out
};

// One sequence of a batch: q_latent, out: head h, query t at
// h * latent_head_stride + t * kv_lora; q_rope: query t, head h at
// t * q_rope_token_stride + h * q_rope_head_stride. kv: rows of
// [kv_lora + n_rot] (c then k_rope, one segment) with room for positions
// 0 .. start_pos + n_query - 1. Query t is at position start_pos + t.
struct MlaSeq {
  const float* q_latent = nullptr;
  const float* q_rope = nullptr;
  int64_t n_query = 0;
  int64_t start_pos = 0;
  KvView kv;
  float* out = nullptr;
};

// Every sequence of a batch in one parallel region.
void MlaAttention(const KernelTable& kernels, const MlaShape& shape, std::span<const MlaSeq> seqs, ThreadPool* pool);

}  // namespace tf
