// Per-sequence block tables over one BlockPool, with prefix caching: full
// computed blocks are published under their chained hash, and a new
// sequence starts from the longest run of cached blocks matching its tokens.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"

namespace tf {

using SeqId = int64_t;

// A block that PublishComputed made the cached copy of its prefix.
struct PublishedBlock {
  int32_t block = 0;
  BlockHash parent;
  BlockHash hash;
  std::vector<int32_t> tokens;  // the block's token ids
};

class KvManager {
 public:
  KvManager(int block_size, int64_t num_blocks, std::string_view model_fingerprint, bool enable_prefix_cache = true);

  int block_size() const { return block_size_; }
  bool prefix_cache_enabled() const { return prefix_cache_; }
  const BlockPool& pool() const { return pool_; }
  // KV events: see BlockPool::RecordEvents.
  void RecordEvents() { pool_.RecordEvents(); }
  std::vector<BlockPoolEvent> TakeEvents() { return pool_.TakeEvents(); }

  // For a sequence that holds no blocks yet: takes a reference on every
  // cached block of the longest cached prefix of `tokens`, always leaving at
  // least the last token to compute (its logits are needed). Returns the
  // number of tokens those blocks cover. `count` adds the lookup to the
  // prefix-cache counters (a caller that may retry counts it itself).
  int64_t AttachCachedPrefix(SeqId seq, std::span<const int32_t> tokens, bool count = true);
  void RecordPrefixLookup(int64_t query_tokens, int64_t hit_tokens) {
    prefix_query_tokens_ += query_tokens;
    prefix_hit_tokens_ += hit_tokens;
  }
  // The chained hashes of the first `num_blocks` full blocks of `tokens`.
  std::vector<BlockHash> ChainHashes(std::span<const int32_t> tokens, int64_t num_blocks) const;
  int64_t num_blocks_of(SeqId seq) const;
  // Blocks `seq` still needs so that positions [0, num_tokens) have a home.
  int64_t BlocksNeeded(SeqId seq, int64_t num_tokens) const;
  // Allocates those blocks; false (and nothing allocated) when the pool
  // cannot supply them all.
  bool Reserve(SeqId seq, int64_t num_tokens);
  // Publishes every block that became full with positions [0, num_computed)
  // of `tokens` (the sequence's tokens so far); appends to `published` the
  // ones that became the cached copy of their prefix.
  void PublishComputed(SeqId seq, std::span<const int32_t> tokens, int64_t num_computed,
                       std::vector<PublishedBlock>* published = nullptr);
  // Publishes the sequence's next blocks (after those already published)
  // under `hashes`, the chain continuing from its last published block:
  // for blocks filled from elsewhere (the KV store), not computed here.
  void PublishFilled(SeqId seq, std::span<const BlockHash> hashes);
  // Releases every block of `seq` (cached ones stay reusable).
  void Free(SeqId seq);
  std::span<const int32_t> block_table(SeqId seq) const;

  // Prefix-cache counters, in tokens: looked up, and found cached.
  int64_t prefix_query_tokens() const { return prefix_query_tokens_; }
  int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }

 private:
  struct SeqBlocks {
    std::vector<int32_t> blocks;
    std::vector<BlockHash> hashes;  // of blocks[0..hashes.size()), chained
  };
  int block_size_;
  bool prefix_cache_;
  BlockPool pool_;
  BlockHash root_;
  std::unordered_map<SeqId, SeqBlocks> seqs_;
  int64_t prefix_query_tokens_ = 0;
  int64_t prefix_hit_tokens_ = 0;
};

}  // namespace tf
