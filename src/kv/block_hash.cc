#include "kv/block_hash.h"

#include <charconv>
#include <cstring>
#include <vector>

#include "base/little_endian.h"
#include "base/sha256.h"

namespace tf {

BlockHash RootBlockHash(std::string_view model_fingerprint) {
  return BlockHash{Sha256(model_fingerprint.data(), model_fingerprint.size())};
}

BlockHash ChainBlockHash(const BlockHash& parent, std::span<const int32_t> tokens) {
  std::vector<uint8_t> message(parent.bytes.size() + tokens.size() * 4);
  std::memcpy(message.data(), parent.bytes.data(), parent.bytes.size());
  uint8_t* p = message.data() + parent.bytes.size();
  for (int32_t token : tokens) {
    StoreLe32(p, static_cast<uint32_t>(token));
    p += 4;
  }
  return BlockHash{Sha256(message.data(), message.size())};
}

std::vector<BlockHash> ChainBlockHashes(const BlockHash& root, std::span<const int32_t> tokens, int block_size,
                                        int64_t num_blocks) {
  std::vector<BlockHash> hashes;
  hashes.reserve(static_cast<size_t>(num_blocks));
  for (int64_t b = 0; b < num_blocks; ++b) {
    hashes.push_back(ChainBlockHash(b == 0 ? root : hashes.back(), tokens.subspan(b * block_size, block_size)));
  }
  return hashes;
}

std::string BlockHashHex(const BlockHash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < hash.bytes.size(); ++i) {
    hex[2 * i] = kDigits[hash.bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[hash.bytes[i] & 15];
  }
  return hex;
}

std::optional<BlockHash> ParseBlockHashHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  BlockHash h;
  for (size_t i = 0; i < 32; ++i) {
    const char* first = hex.data() + 2 * i;
    const auto [end, ec] = std::from_chars(first, first + 2, h.bytes[i], 16);
    if (ec != std::errc() || end != first + 2) return std::nullopt;
  }
  if (BlockHashHex(h) != hex) return std::nullopt;  // upper case or a sign
  return h;
}

}  // namespace tf
