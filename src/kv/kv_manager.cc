#include "kv/kv_manager.h"

#include "base/check.h"

namespace tf {

KvManager::KvManager(int block_size, int64_t num_blocks, std::string_view model_fingerprint,
                     bool enable_prefix_cache)
    : block_size_(block_size), prefix_cache_(enable_prefix_cache), pool_(num_blocks),
      root_(RootBlockHash(model_fingerprint)) {
  TF_CHECK(block_size > 0);
}

int64_t KvManager::AttachCachedPrefix(SeqId seq, std::span<const int32_t> tokens, bool count) {
  SeqBlocks& s = seqs_[seq];
  TF_CHECK(s.blocks.empty());
  if (!prefix_cache_ || tokens.empty()) return 0;
  // Leave the last token uncached so the step that computes it yields logits.
  const int64_t max_blocks = (static_cast<int64_t>(tokens.size()) - 1) / block_size_;
  BlockHash parent = root_;
  for (int64_t b = 0; b < max_blocks; ++b) {
    const BlockHash hash = ChainBlockHash(parent, tokens.subspan(b * block_size_, block_size_));
    const std::optional<int32_t> block = pool_.Lookup(hash);
    if (!block.has_value()) break;
    s.blocks.push_back(*block);
    s.hashes.push_back(hash);
    parent = hash;
  }
  const int64_t cached_tokens = static_cast<int64_t>(s.blocks.size()) * block_size_;
  if (count) RecordPrefixLookup(static_cast<int64_t>(tokens.size()), cached_tokens);
  return cached_tokens;
}

std::vector<BlockHash> KvManager::ChainHashes(std::span<const int32_t> tokens, int64_t num_blocks) const {
  TF_CHECK(num_blocks * block_size_ <= static_cast<int64_t>(tokens.size()));
  return ChainBlockHashes(root_, tokens, block_size_, num_blocks);
}

int64_t KvManager::num_blocks_of(SeqId seq) const {
  const auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : static_cast<int64_t>(it->second.blocks.size());
}

int64_t KvManager::BlocksNeeded(SeqId seq, int64_t num_tokens) const {
  const auto it = seqs_.find(seq);
  const int64_t have = it == seqs_.end() ? 0 : static_cast<int64_t>(it->second.blocks.size());
  const int64_t want = (num_tokens + block_size_ - 1) / block_size_;
  return want > have ? want - have : 0;
}

bool KvManager::Reserve(SeqId seq, int64_t num_tokens) {
  const int64_t needed = BlocksNeeded(seq, num_tokens);
  if (needed > pool_.num_free_blocks()) return false;
  SeqBlocks& s = seqs_[seq];
  for (int64_t i = 0; i < needed; ++i) {
    const std::optional<int32_t> block = pool_.Allocate();
    TF_CHECK(block.has_value());
    s.blocks.push_back(*block);
  }
  return true;
}

void KvManager::PublishComputed(SeqId seq, std::span<const int32_t> tokens, int64_t num_computed,
                                std::vector<PublishedBlock>* published) {
  if (!prefix_cache_) return;
  SeqBlocks& s = seqs_.at(seq);
  const int64_t full_blocks = std::min<int64_t>(num_computed / block_size_, static_cast<int64_t>(s.blocks.size()));
  for (int64_t b = static_cast<int64_t>(s.hashes.size()); b < full_blocks; ++b) {
    const BlockHash parent = b == 0 ? root_ : s.hashes[b - 1];
    const std::span<const int32_t> block_tokens = tokens.subspan(b * block_size_, block_size_);
    s.hashes.push_back(ChainBlockHash(parent, block_tokens));
    if (pool_.Publish(s.blocks[b], s.hashes.back()) && published != nullptr) {
      published->push_back({s.blocks[b], parent, s.hashes.back(), {block_tokens.begin(), block_tokens.end()}});
    }
  }
}

void KvManager::PublishFilled(SeqId seq, std::span<const BlockHash> hashes) {
  if (!prefix_cache_) return;
  SeqBlocks& s = seqs_.at(seq);
  TF_CHECK(s.hashes.size() + hashes.size() <= s.blocks.size());
  for (const BlockHash& hash : hashes) {
    pool_.Publish(s.blocks[s.hashes.size()], hash);
    s.hashes.push_back(hash);
  }
}

void KvManager::Free(SeqId seq) {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  // Release the tail first so a prefix's later blocks are evicted before its
  // earlier ones (the LRU order then keeps the most shareable blocks longest).
  for (auto b = it->second.blocks.rbegin(); b != it->second.blocks.rend(); ++b) pool_.Release(*b);
  seqs_.erase(it);
}

std::span<const int32_t> KvManager::block_table(SeqId seq) const {
  const auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  return it->second.blocks;
}

}  // namespace tf
