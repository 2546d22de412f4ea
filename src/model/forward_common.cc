#include "model/forward_common.h"

#include <fmt/format.h>

#include "kernels/ops.h"
#include "tensor/dequantize.h"

namespace tf {

Status ValidateBatch(const ForwardBatch& batch, int64_t n_vocab, const KvStorage& kv) {
  for (size_t i = 0; i < batch.tokens.size(); ++i) {
    const int32_t id = batch.tokens[i];
    if (id < 0 || id >= n_vocab) {
      return InvalidArgumentError(fmt::format("token {} at index {} is outside the vocabulary (0..{})", id, i,
                                              n_vocab - 1));
    }
  }
  const int64_t n_tokens = static_cast<int64_t>(batch.tokens.size());
  for (const SequenceSlice& s : batch.seqs) {
    if (s.token_begin < 0 || s.num_tokens < 0 || s.token_begin + s.num_tokens > n_tokens || s.start_pos < 0) {
      return InvalidArgumentError(fmt::format("sequence slice [{}, +{}) at position {} is outside the batch of {}",
                                              s.token_begin, s.num_tokens, s.start_pos, n_tokens));
    }
    const int64_t capacity = static_cast<int64_t>(s.block_table.size()) * kv.block_size();
    if (s.start_pos + s.num_tokens > capacity) {
      return OutOfRangeError(fmt::format("positions up to {} exceed the {} KV slots of the sequence",
                                         s.start_pos + s.num_tokens, capacity));
    }
    for (int32_t block : s.block_table) {
      if (block < 0 || block >= kv.num_blocks()) {
        return InternalError(fmt::format("KV block {} is outside the pool of {}", block, kv.num_blocks()));
      }
    }
  }
  for (int64_t row : batch.logit_rows) {
    if (row < 0 || row >= n_tokens) return InvalidArgumentError(fmt::format("logit row {} is outside the batch", row));
  }
  return Status::Ok();
}

void EmbedTokens(const TensorView& table, std::span<const int32_t> tokens, float* x, ThreadPool* pool) {
  const int64_t n_embd = table.ne[0];
  pool->ParallelFor(static_cast<int64_t>(tokens.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) DequantizeRow(table.type, table.row(tokens[t]), x + t * n_embd, n_embd);
  });
}

std::vector<int64_t> TokenPositions(const ForwardBatch& batch) {
  std::vector<int64_t> positions(batch.tokens.size(), 0);
  for (const SequenceSlice& s : batch.seqs) {
    for (int64_t i = 0; i < s.num_tokens; ++i) positions[s.token_begin + i] = s.start_pos + i;
  }
  return positions;
}

void ComputeLogits(const KernelTable& kernels, const float* x, int64_t n_embd, const std::vector<int64_t>& rows,
                   const float* norm_weight, float eps, const TensorView& output, float* logits,
                   MatmulScratch* scratch, ThreadPool* pool) {
  if (rows.empty()) return;
  std::vector<float> normed(rows.size() * n_embd);
  for (size_t i = 0; i < rows.size(); ++i) {
    RmsNorm(x + rows[i] * n_embd, norm_weight, eps, 1, n_embd, normed.data() + i * n_embd);
  }
  MatMul(kernels, output, normed.data(), static_cast<int64_t>(rows.size()), logits, output.ne[1], scratch, pool);
}

}  // namespace tf
