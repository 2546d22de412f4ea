#include "kv/block_hash.h"

#include <cstring>
#include <vector>

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
    const uint32_t u = static_cast<uint32_t>(token);
    p[0] = static_cast<uint8_t>(u);
    p[1] = static_cast<uint8_t>(u >> 8);
    p[2] = static_cast<uint8_t>(u >> 16);
    p[3] = static_cast<uint8_t>(u >> 24);
    p += 4;
  }
  return BlockHash{Sha256(message.data(), message.size())};
}

}  // namespace tf
