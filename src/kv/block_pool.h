// The KV cache's blocks and who holds them. Every block is in exactly one of
// three states: free; in use (reference count > 0, shared by every sequence
// whose prefix it holds); or cached (count 0 but still holding a full block
// of a known prefix, reusable until evicted). Allocation takes a free block
// first and otherwise evicts the least recently released cached one.
// No tensor code: the bytes live in model/KvStorage.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <utility>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"

namespace tf {

// A change to the set of cached blocks, for KV events (workers publish them
// so a router knows what each one holds).
struct BlockPoolEvent {
  enum class Kind { kStored, kRemoved };
  Kind kind;
  BlockHash hash;
};

class BlockPool {
 public:
  explicit BlockPool(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(ref_counts_.size()); }
  // Blocks an allocation can get right now: free plus evictable cached.
  int64_t num_free_blocks() const { return static_cast<int64_t>(free_.size() + lru_.size()); }
  int64_t num_used_blocks() const { return num_blocks() - num_free_blocks(); }
  int64_t num_cached_blocks() const { return static_cast<int64_t>(by_hash_.size()); }

  // A block with reference count 1, or nullopt when none is left.
  std::optional<int32_t> Allocate();
  // The cached block holding `hash`, with one more reference; nullopt on a miss.
  std::optional<int32_t> Lookup(const BlockHash& hash);
  // Drops one reference; at 0 a hashed block becomes evictable, others free.
  void Release(int32_t block);
  // Marks a full, computed block as holding `hash`; false (a no-op) when
  // this or another block already holds a hash (the first copy stays cached).
  bool Publish(int32_t block, const BlockHash& hash);
  int32_t ref_count(int32_t block) const { return ref_counts_[block]; }
  // Starts recording stores and evictions of cached blocks; TakeEvents
  // hands over (and clears) what was recorded, in order.
  void RecordEvents() { record_events_ = true; }
  std::vector<BlockPoolEvent> TakeEvents() { return std::exchange(events_, {}); }

 private:
  void Evict(int32_t block);
  std::vector<int32_t> ref_counts_;
  std::vector<int32_t> free_;
  std::list<int32_t> lru_;  // cached with count 0, least recently released first
  std::vector<std::list<int32_t>::iterator> lru_pos_;
  std::vector<std::optional<BlockHash>> hash_of_;
  std::unordered_map<BlockHash, int32_t, BlockHashHasher> by_hash_;
  bool record_events_ = false;
  std::vector<BlockPoolEvent> events_;
};

}  // namespace tf
