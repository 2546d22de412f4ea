#include "kv/block_hash.h"

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

}  // namespace tf
