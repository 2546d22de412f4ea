// Pieces of the forward pass every architecture shares: checking a batch
// against the vocabulary and the KV block tables, embedding lookup, the
// positions of each token, where a position's KV goes, and the final norm +
// output projection for the rows that need logits.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "model/forward_batch.h"
#include "tensor/kv_storage.h"
#include "tensor/tensor_view.h"

namespace tf {

// Token ids within [0, n_vocab), slices inside the token span, every
// position covered by the sequence's block table.
Status ValidateBatch(const ForwardBatch& batch, int64_t n_vocab, const KvStorage& kv);

// x[t] = row tokens[t] of `table` as float32. x: [n][n_embd].
void EmbedTokens(const TensorView& table, std::span<const int32_t> tokens, float* x, ThreadPool* pool);

// Position of every row of the batch.
std::vector<int64_t> TokenPositions(const ForwardBatch& batch);

// KV cache location of a position.
struct KvSlot {
  int32_t block;
  int slot;
};
inline KvSlot SlotOf(const SequenceSlice& seq, int64_t pos, int block_size) {
  return {seq.block_table[pos / block_size], static_cast<int>(pos % block_size)};
}

// logits[i] = output * norm(x[logit_rows[i]]). x: [n_tokens][n_embd].
void ComputeLogits(const KernelTable& kernels, const float* x, int64_t n_embd, const std::vector<int64_t>& rows,
                   const float* norm_weight, float eps, const TensorView& output, float* logits,
                   MatmulScratch* scratch, ThreadPool* pool);

}  // namespace tf
