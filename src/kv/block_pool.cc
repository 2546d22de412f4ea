#include "kv/block_pool.h"

#include "base/check.h"

namespace tf {

BlockPool::BlockPool(int64_t num_blocks)
    : ref_counts_(static_cast<size_t>(num_blocks), 0), lru_pos_(static_cast<size_t>(num_blocks), lru_.end()),
      hash_of_(static_cast<size_t>(num_blocks)) {
  TF_CHECK(num_blocks > 0 && num_blocks < INT32_MAX);
  free_.reserve(static_cast<size_t>(num_blocks));
  // Popped from the back: block 0 is handed out first.
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

std::optional<int32_t> BlockPool::Allocate() {
  int32_t block;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (!lru_.empty()) {
    block = lru_.front();
    Evict(block);
  } else {
    return std::nullopt;
  }
  ref_counts_[block] = 1;
  return block;
}

void BlockPool::Evict(int32_t block) {
  lru_.erase(lru_pos_[block]);
  lru_pos_[block] = lru_.end();
  by_hash_.erase(*hash_of_[block]);
  if (record_events_) events_.push_back({BlockPoolEvent::Kind::kRemoved, *hash_of_[block]});
  hash_of_[block].reset();
}

std::optional<int32_t> BlockPool::Lookup(const BlockHash& hash) {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  const int32_t block = it->second;
  if (ref_counts_[block] == 0) {
    lru_.erase(lru_pos_[block]);
    lru_pos_[block] = lru_.end();
  }
  ++ref_counts_[block];
  return block;
}

void BlockPool::Release(int32_t block) {
  TF_CHECK(ref_counts_[block] > 0);
  if (--ref_counts_[block] > 0) return;
  if (hash_of_[block].has_value()) {
    lru_pos_[block] = lru_.insert(lru_.end(), block);
  } else {
    free_.push_back(block);
  }
}

bool BlockPool::Publish(int32_t block, const BlockHash& hash) {
  TF_CHECK(ref_counts_[block] > 0);
  if (hash_of_[block].has_value()) return false;
  if (!by_hash_.emplace(hash, block).second) return false;
  hash_of_[block] = hash;
  if (record_events_) events_.push_back({BlockPoolEvent::Kind::kStored, hash});
  return true;
}

}  // namespace tf
