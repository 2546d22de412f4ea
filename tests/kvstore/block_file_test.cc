#include "kvstore/block_file.h"

#include <numeric>
#include <random>

#include <gtest/gtest.h>

namespace tf {
namespace {

struct Block {
  BlockFileFormat format;
  BlockHash parent;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> payload;
  BlockHash hash() const { return ChainBlockHash(parent, tokens); }
};

Block MakeBlock(uint32_t seed = 1) {
  Block b;
  b.format.model_root = RootBlockHash("xxh3-128:00112233445566778899aabbccddeeff|overrides:");
  b.format.kv_type = 30;  // bf16
  b.format.block_size = 16;
  b.format.n_layer = 3;
  b.format.payload_bytes = 3 * 2 * 16 * 8 * 2;  // layers x (k, v) x slots x elements x bytes
  b.parent = RootBlockHash("parent");
  std::mt19937 rng(seed);
  b.tokens.resize(16);
  for (int32_t& t : b.tokens) t = static_cast<int32_t>(rng() % 32000);
  b.payload.resize(b.format.payload_bytes);
  for (uint8_t& x : b.payload) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(BlockFileTest, RoundTripsHeaderTokensAndPayload) {
  const Block b = MakeBlock();
  const auto bytes = EncodeBlockFile(b.format, b.parent, b.tokens, b.payload);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_EQ(bytes->size(), kBlockFileFixedBytes + 4 * 16 + b.payload.size());
  const auto parsed = ParseBlockFile(*bytes, b.format, b.hash());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->tokens, b.tokens);
  EXPECT_EQ(parsed->parent, b.parent);
  EXPECT_EQ(parsed->hash, b.hash());
  EXPECT_TRUE(std::equal(parsed->payload.begin(), parsed->payload.end(), b.payload.begin(), b.payload.end()));
  EXPECT_EQ(BlockFileName(b.hash()).size(), 64u);
}

// Every single-bit flip anywhere in the file is caught by some check: a
// field comparison, the header checksum, the chain hash or the payload
// checksum. None is ever served.
TEST(BlockFileTest, EveryBitFlipIsAMiss) {
  const Block b = MakeBlock(2);
  const std::vector<uint8_t> good = *EncodeBlockFile(b.format, b.parent, b.tokens, b.payload);
  for (size_t at = 0; at < good.size(); ++at) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::vector<uint8_t> bad = good;
      bad[at] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(ParseBlockFile(bad, b.format, b.hash()).ok()) << "byte " << at << " bit " << bit;
    }
  }
}

TEST(BlockFileTest, TruncatedOrExtendedFilesAreMisses) {
  const Block b = MakeBlock(3);
  const std::vector<uint8_t> good = *EncodeBlockFile(b.format, b.parent, b.tokens, b.payload);
  for (size_t n : {size_t{0}, size_t{7}, kBlockFileFixedBytes, good.size() - 1}) {
    const auto r = ParseBlockFile(std::span(good).first(n), b.format, b.hash());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("file size"), std::string::npos) << r.status().message();
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_FALSE(ParseBlockFile(longer, b.format, b.hash()).ok());
}

TEST(BlockFileTest, AnotherModelDtypeOrShapeNeverMatches) {
  const Block b = MakeBlock(4);
  const std::vector<uint8_t> bytes = *EncodeBlockFile(b.format, b.parent, b.tokens, b.payload);
  BlockFileFormat other_model = b.format;
  other_model.model_root = RootBlockHash("xxh3-128:ffffffffffffffffffffffffffffffff|overrides:");
  const auto m = ParseBlockFile(bytes, other_model, b.hash());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("another model"), std::string::npos);
  BlockFileFormat other_type = b.format;
  other_type.kv_type = 0;  // f32 with the same byte count
  const auto t = ParseBlockFile(bytes, other_type, b.hash());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("kv_type is 30, expected 0"), std::string::npos) << t.status().message();
  BlockFileFormat other_layers = b.format;
  other_layers.n_layer = 6;  // same file size, other shape
  EXPECT_FALSE(ParseBlockFile(bytes, other_layers, b.hash()).ok());
}

TEST(BlockFileTest, AFileUnderAnotherBlocksNameIsAMiss) {
  const Block b = MakeBlock(5);
  const std::vector<uint8_t> bytes = *EncodeBlockFile(b.format, b.parent, b.tokens, b.payload);
  const auto r = ParseBlockFile(bytes, b.format, RootBlockHash("some other block"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another block"), std::string::npos);
}

TEST(BlockFileTest, EncodeRefusesWrongTokenCountOrPayloadSize) {
  const Block b = MakeBlock(6);
  EXPECT_FALSE(EncodeBlockFile(b.format, b.parent, std::span(b.tokens).first(15), b.payload).ok());
  EXPECT_FALSE(EncodeBlockFile(b.format, b.parent, b.tokens, std::span(b.payload).first(10)).ok());
}

}  // namespace
}  // namespace tf
