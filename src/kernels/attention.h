// Causal multi-head attention of a sequence's new tokens against its cached
// keys and values (grouped-query: query head h reads KV head h / group).
// Keys and values are given as one row pointer per position, so the cache
// may be paged into blocks anywhere in memory.
#pragma once

#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "tensor/dtype.h"

namespace tf {

struct AttentionShape {
  int n_head = 0;
  int n_kv_head = 0;
  int head_dim_qk = 0;   // dims of q and k per head
  int head_dim_v = 0;    // dims of v per head
  int64_t q_stride = 0;  // floats between query rows (tokens)
  int64_t out_stride = 0;
  int64_t k_head_stride = 0;  // elements from one KV head's key to the next (same position)
  int64_t v_head_stride = 0;
  float scale = 1.0f;    // applied to q.k
  DType kv_type = DType::kF32;  // element type of the cached rows
};

// One sequence's share of a batch. q: [n_query][q_stride], head h at
// h * head_dim_qk. Query t sits at position start_pos + t and sees keys
// 0..start_pos + t. k_rows/v_rows hold at least start_pos + n_query
// positions. out: [n_query][out_stride], head h at h * head_dim_v.
struct AttentionSeq {
  const float* q = nullptr;
  int64_t n_query = 0;
  int64_t start_pos = 0;
  std::span<const void* const> k_rows, v_rows;
  float* out = nullptr;
};

// Every sequence of a batch in one parallel region (batched decode has one
// query per sequence: too little work per sequence to synchronize for).
void CausalAttention(const KernelTable& kernels, const AttentionShape& shape, std::span<const AttentionSeq> seqs,
                     ThreadPool* pool);

// A single sequence.
void CausalAttention(const KernelTable& kernels, const AttentionShape& shape, const float* q,
                     int64_t n_query, int64_t start_pos, std::span<const void* const> k_rows,
                     std::span<const void* const> v_rows, float* out, ThreadPool* pool);

}  // namespace tf
