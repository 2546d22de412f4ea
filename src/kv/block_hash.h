// Content keys for full KV blocks: SHA-256 over the parent block's key, the
// block's token ids and a fingerprint of the model and cache format. Chained,
// so a block's key names its whole prefix; cryptographic, so one client
// cannot forge a key that collides with another client's cached prefix.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tf {

struct BlockHash {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const BlockHash&) const = default;
};

struct BlockHashHasher {
  size_t operator()(const BlockHash& h) const {
    size_t v;
    static_assert(sizeof(v) <= sizeof(h.bytes));
    __builtin_memcpy(&v, h.bytes.data(), sizeof(v));
    return v;
  }
};

// The key every chain starts from: SHA-256 of `model_fingerprint`.
BlockHash RootBlockHash(std::string_view model_fingerprint);
// SHA-256(parent || little-endian int32 token ids).
BlockHash ChainBlockHash(const BlockHash& parent, std::span<const int32_t> tokens);
// The keys of the first `num_blocks` full blocks of `tokens`, chained from
// `root` (num_blocks * block_size <= tokens.size()).
std::vector<BlockHash> ChainBlockHashes(const BlockHash& root, std::span<const int32_t> tokens, int block_size,
                                        int64_t num_blocks);

// 64 lowercase hex digits (block file names, KV snapshots), and back: only
// that exact form parses.
std::string BlockHashHex(const BlockHash& hash);
std::optional<BlockHash> ParseBlockHashHex(std::string_view hex);

}  // namespace tf
