// What one forward pass computes: the new tokens of one or more sequences,
// where each sequence's tokens go in the KV cache, and which rows need
// logits. The engine builds it; models consume it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tf {

struct SequenceSlice {
  int64_t token_begin = 0;  // first row of this sequence in ForwardBatch::tokens
  int64_t num_tokens = 0;
  int64_t start_pos = 0;    // position of the first new token (tokens already cached)
  std::span<const int32_t> block_table;  // KV blocks holding positions 0.. in order
};

struct ForwardBatch {
  std::span<const int32_t> tokens;   // all new tokens, sequence after sequence
  std::vector<SequenceSlice> seqs;
  std::vector<int64_t> logit_rows;   // rows of `tokens` whose logits are wanted
};

}  // namespace tf
