// Causal multi-head attention of a sequence's new tokens against its cached
// keys and values (grouped-query: query head h reads KV head h / group).
// Keys and values are read from the sequence's paged cache (tensor/kv_view.h):
// query head h reads KV head h / group, a segment of the cached rows.
#pragma once

#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "tensor/kv_view.h"

namespace tf {

struct AttentionShape {
  int n_head = 0;
  int n_kv_head = 0;
  int head_dim_qk = 0;   // dims of q and k per head
  int head_dim_v = 0;    // dims of v per head
  int64_t q_stride = 0;  // floats between query rows (tokens)
  int64_t out_stride = 0;
  float scale = 1.0f;    // applied to q.k
};

// One sequence's share of a batch. q: [n_query][q_stride], head h at
// h * head_dim_qk. Query t sits at position start_pos + t and sees keys
// 0..start_pos + t. kv (one segment per KV head) has room for at least
// start_pos + n_query positions. out: [n_query][out_stride], head h at
// h * head_dim_v.
struct AttentionSeq {
  const float* q = nullptr;
  int64_t n_query = 0;
  int64_t start_pos = 0;
  KvView kv;
  float* out = nullptr;
};

// Every sequence of a batch in one parallel region (batched decode has one
// query per sequence: too little work per sequence to synchronize for).
void CausalAttention(const KernelTable& kernels, const AttentionShape& shape, std::span<const AttentionSeq> seqs,
                     ThreadPool* pool);


}  // namespace tf
