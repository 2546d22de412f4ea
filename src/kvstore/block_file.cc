#include "kvstore/block_file.h"

#include <xxhash.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/check.h"
#include "base/little_endian.h"

namespace tf {
namespace {

constexpr char kMagic[8] = {'T', 'F', 'K', 'V', 'B', 'L', 'K', '1'};
constexpr size_t kHeaderChecksumAt = 144;

// XXH3-64 over the fixed header before its checksum and the token ids.
uint64_t HeaderChecksum(const uint8_t* header, size_t n_tokens) {
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), XXH3_freeState);
  TF_CHECK(state != nullptr) << "out of memory for an xxhash state";
  XXH3_64bits_reset(state.get());
  XXH3_64bits_update(state.get(), header, kHeaderChecksumAt);
  XXH3_64bits_update(state.get(), header + kBlockFileFixedBytes, 4 * n_tokens);
  return XXH3_64bits_digest(state.get());
}

BlockHash GetHash(const uint8_t* p) {
  BlockHash h;
  std::memcpy(h.bytes.data(), p, h.bytes.size());
  return h;
}

Status Mismatch(std::string_view field, uint64_t got, uint64_t want) {
  return DataLossError(fmt::format("KV block file: {} is {}, expected {}", field, got, want));
}

}  // namespace

std::string BlockFileName(const BlockHash& hash) { return BlockHashHex(hash); }

StatusOr<std::vector<uint8_t>> EncodeBlockFile(const BlockFileFormat& format, const BlockHash& parent,
                                               std::span<const int32_t> tokens, std::span<const uint8_t> payload) {
  if (tokens.size() != format.block_size)
    return InvalidArgumentError(
        fmt::format("KV block file: {} tokens for blocks of {}", tokens.size(), format.block_size));
  if (payload.size() != format.payload_bytes)
    return InvalidArgumentError(
        fmt::format("KV block file: payload of {} bytes, the format says {}", payload.size(), format.payload_bytes));
  std::vector<uint8_t> out(format.file_bytes());
  uint8_t* h = out.data();
  std::memcpy(h, kMagic, sizeof(kMagic));
  StoreLe32(h + 8, kBlockFileVersion);
  StoreLe32(h + 12, static_cast<uint32_t>(kBlockFileFixedBytes + 4 * tokens.size()));
  StoreLe32(h + 16, format.kv_type);
  StoreLe32(h + 20, format.block_size);
  StoreLe32(h + 24, format.n_layer);
  StoreLe32(h + 28, static_cast<uint32_t>(tokens.size()));
  StoreLe64(h + 32, payload.size());
  StoreLe64(h + 40, XXH3_64bits(payload.data(), payload.size()));
  std::memcpy(h + 48, format.model_root.bytes.data(), 32);
  std::memcpy(h + 80, parent.bytes.data(), 32);
  std::memcpy(h + 112, ChainBlockHash(parent, tokens).bytes.data(), 32);
  for (size_t i = 0; i < tokens.size(); ++i)
    StoreLe32(h + kBlockFileFixedBytes + 4 * i, static_cast<uint32_t>(tokens[i]));
  StoreLe64(h + kHeaderChecksumAt, HeaderChecksum(h, tokens.size()));
  if (!payload.empty()) std::memcpy(h + kBlockFileFixedBytes + 4 * tokens.size(), payload.data(), payload.size());
  return out;
}

StatusOr<BlockFileContents> ParseBlockFile(std::span<const uint8_t> bytes, const BlockFileFormat& format,
                                           const BlockHash& expected_hash) {
  if (bytes.size() != format.file_bytes()) return Mismatch("file size", bytes.size(), format.file_bytes());
  const uint8_t* h = bytes.data();
  if (std::memcmp(h, kMagic, sizeof(kMagic)) != 0) return DataLossError("KV block file: bad magic");
  if (LoadLe32(h + 8) != kBlockFileVersion) return Mismatch("format_version", LoadLe32(h + 8), kBlockFileVersion);
  const size_t header_bytes = kBlockFileFixedBytes + 4u * format.block_size;
  if (LoadLe32(h + 12) != header_bytes) return Mismatch("header_bytes", LoadLe32(h + 12), header_bytes);
  if (LoadLe32(h + 16) != format.kv_type) return Mismatch("kv_type", LoadLe32(h + 16), format.kv_type);
  if (LoadLe32(h + 20) != format.block_size) return Mismatch("block_size", LoadLe32(h + 20), format.block_size);
  if (LoadLe32(h + 24) != format.n_layer) return Mismatch("n_layer", LoadLe32(h + 24), format.n_layer);
  if (LoadLe32(h + 28) != format.block_size) return Mismatch("n_tokens", LoadLe32(h + 28), format.block_size);
  if (LoadLe64(h + 32) != format.payload_bytes)
    return Mismatch("payload_bytes", LoadLe64(h + 32), format.payload_bytes);
  if (GetHash(h + 48) != format.model_root) return DataLossError("KV block file: written for another model or format");
  if (LoadLe64(h + kHeaderChecksumAt) != HeaderChecksum(h, format.block_size))
    return DataLossError("KV block file: header checksum mismatch");
  BlockFileContents c;
  c.parent = GetHash(h + 80);
  c.hash = GetHash(h + 112);
  c.tokens.resize(format.block_size);
  for (size_t i = 0; i < c.tokens.size(); ++i)
    c.tokens[i] = static_cast<int32_t>(LoadLe32(h + kBlockFileFixedBytes + 4 * i));
  if (c.hash != expected_hash) return DataLossError("KV block file: holds another block than its name says");
  if (ChainBlockHash(c.parent, c.tokens) != c.hash)
    return DataLossError("KV block file: hash does not chain from its parent and tokens");
  c.payload = bytes.subspan(header_bytes);
  if (XXH3_64bits(c.payload.data(), c.payload.size()) != LoadLe64(h + 40))
    return DataLossError("KV block file: payload checksum mismatch");
  return c;
}

}  // namespace tf
