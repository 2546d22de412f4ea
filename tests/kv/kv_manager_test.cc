// Block pool states (free / used / cached), LRU eviction, chained SHA-256
// keys and prefix reuse through the KV manager.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"
#include "kv/kv_manager.h"

namespace tf {
namespace {

TEST(BlockHash, ChainsOverParentTokensAndFingerprint) {
  const BlockHash root_a = RootBlockHash("model-a"), root_b = RootBlockHash("model-b");
  EXPECT_NE(root_a, root_b);
  const std::vector<int32_t> t1 = {1, 2, 3, 4}, t2 = {1, 2, 3, 5};
  EXPECT_EQ(ChainBlockHash(root_a, t1), ChainBlockHash(root_a, t1));
  EXPECT_NE(ChainBlockHash(root_a, t1), ChainBlockHash(root_a, t2));
  EXPECT_NE(ChainBlockHash(root_a, t1), ChainBlockHash(root_b, t1));
  // SHA-256 of the empty string, the known vector.
  const BlockHash empty = RootBlockHash("");
  EXPECT_EQ(empty.bytes[0], 0xe3);
  EXPECT_EQ(empty.bytes[31], 0x55);
}

TEST(BlockPool, AllocatesFreeThenEvictsLeastRecentlyReleasedCached) {
  BlockPool pool(3);
  const int32_t a = *pool.Allocate(), b = *pool.Allocate(), c = *pool.Allocate();
  EXPECT_FALSE(pool.Allocate().has_value());
  BlockHash ha, hb;
  ha.bytes[0] = 1;
  hb.bytes[0] = 2;
  pool.Publish(a, ha);
  pool.Publish(b, hb);
  pool.Release(b);  // cached, released first
  pool.Release(a);  // cached
  pool.Release(c);  // unhashed: plain free
  EXPECT_EQ(pool.num_free_blocks(), 3);
  EXPECT_EQ(pool.num_cached_blocks(), 2);
  EXPECT_EQ(*pool.Allocate(), c);  // free blocks go first
  EXPECT_EQ(*pool.Allocate(), b);  // then the least recently released cached one
  EXPECT_FALSE(pool.Lookup(hb).has_value());
  ASSERT_TRUE(pool.Lookup(ha).has_value());  // still cached; now referenced
  EXPECT_EQ(pool.ref_count(a), 1);
  EXPECT_EQ(pool.num_free_blocks(), 0);
}

TEST(BlockPool, PublishingTheSameContentTwiceKeepsTheFirstCopy) {
  BlockPool pool(2);
  const int32_t a = *pool.Allocate(), b = *pool.Allocate();
  BlockHash h;
  h.bytes[5] = 9;
  pool.Publish(a, h);
  pool.Publish(b, h);
  pool.Release(a);
  pool.Release(b);
  EXPECT_EQ(pool.num_cached_blocks(), 1);
  EXPECT_EQ(*pool.Lookup(h), a);
}

TEST(KvManager, ReusesTheLongestCachedPrefixButAlwaysComputesTheLastToken) {
  KvManager kv(4, 16, "fp");
  std::vector<int32_t> tokens(10);
  std::iota(tokens.begin(), tokens.end(), 100);
  EXPECT_EQ(kv.AttachCachedPrefix(1, tokens), 0);
  ASSERT_TRUE(kv.Reserve(1, 10));
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  kv.PublishComputed(1, tokens, 10);  // blocks 0 and 1 are full
  EXPECT_EQ(kv.pool().num_cached_blocks(), 2);

  // Same first 9 tokens: both full blocks reused.
  std::vector<int32_t> other(tokens.begin(), tokens.begin() + 9);
  other.push_back(7);
  EXPECT_EQ(kv.AttachCachedPrefix(2, other), 8);
  EXPECT_EQ(kv.block_table(2)[0], kv.block_table(1)[0]);
  EXPECT_EQ(kv.pool().ref_count(kv.block_table(1)[0]), 2);
  // Exactly 8 tokens: only one block, so the 8th token is computed.
  std::vector<int32_t> eight(tokens.begin(), tokens.begin() + 8);
  EXPECT_EQ(kv.AttachCachedPrefix(3, eight), 4);
  // Diverging in the first block: nothing.
  std::vector<int32_t> diverged = tokens;
  diverged[1] = 0;
  EXPECT_EQ(kv.AttachCachedPrefix(4, diverged), 0);
  EXPECT_EQ(kv.prefix_hit_tokens(), 12);
  EXPECT_EQ(kv.prefix_query_tokens(), 10 + 10 + 8 + 10);

  kv.Free(1);
  kv.Free(2);
  kv.Free(3);
  kv.Free(4);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 2);  // still reusable
}

TEST(KvManager, ReserveIsAllOrNothing) {
  KvManager kv(4, 3, "fp");
  ASSERT_TRUE(kv.Reserve(1, 8));
  EXPECT_FALSE(kv.Reserve(2, 8));
  EXPECT_EQ(kv.block_table(2).size(), 0u);
  EXPECT_EQ(kv.pool().num_free_blocks(), 1);
  EXPECT_EQ(kv.BlocksNeeded(1, 9), 1);
  EXPECT_EQ(kv.BlocksNeeded(1, 8), 0);
}

TEST(KvManager, DisabledPrefixCacheNeverShares) {
  KvManager kv(2, 8, "fp", /*enable_prefix_cache=*/false);
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  ASSERT_TRUE(kv.Reserve(1, 5));
  kv.PublishComputed(1, tokens, 5);
  EXPECT_EQ(kv.AttachCachedPrefix(2, tokens), 0);
  EXPECT_EQ(kv.pool().num_cached_blocks(), 0);
}

}  // namespace
}  // namespace tf
