// The on-disk form of one KV block in the store: a self-describing header,
// the block's token ids, then the payload (KvStorage::ExportBlock's bytes).
// Knows nothing about tensors: the KV element type is an opaque code.
//
// Layout, little-endian, header_bytes = kBlockFileFixedBytes + 4 * n_tokens:
//   0   magic "TFKVBLK1"             8
//   8   format_version u32           (kBlockFileVersion)
//   12  header_bytes u32
//   16  kv_type u32                  KV element type code (the DType id)
//   20  block_size u32               tokens per block
//   24  n_layer u32
//   28  n_tokens u32                 == block_size (only full blocks are stored)
//   32  payload_bytes u64
//   40  payload_checksum u64         XXH3-64 of the payload
//   48  model_root [32]              RootBlockHash of the model fingerprint
//   80  parent_hash [32]
//   112 block_hash [32]              ChainBlockHash(parent_hash, tokens): the file's name
//   144 header_checksum u64          XXH3-64 of bytes [0, 144) and the token ids
//   152 token ids int32 x n_tokens
//   header_bytes: payload
// A reader believes nothing: every field is checked against what it
// expects, the chain hash is recomputed from parent and tokens, and both
// checksums must match. Anything else is a miss, never served.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/block_hash.h"

namespace tf {

inline constexpr uint32_t kBlockFileVersion = 1;
inline constexpr size_t kBlockFileFixedBytes = 152;

// What a block file must say to be served to this engine.
struct BlockFileFormat {
  BlockHash model_root;
  uint32_t kv_type = 0;
  uint32_t block_size = 0;
  uint32_t n_layer = 0;
  uint64_t payload_bytes = 0;
  size_t file_bytes() const { return kBlockFileFixedBytes + 4u * block_size + payload_bytes; }
};

struct BlockFileContents {
  BlockHash parent;
  BlockHash hash;
  std::vector<int32_t> tokens;
  std::span<const uint8_t> payload;  // a view into the bytes given to ParseBlockFile
};

// The file's bytes for a block with `tokens` (block_size of them) after
// `parent`; its hash is ChainBlockHash(parent, tokens).
StatusOr<std::vector<uint8_t>> EncodeBlockFile(const BlockFileFormat& format, const BlockHash& parent,
                                               std::span<const int32_t> tokens, std::span<const uint8_t> payload);

// Checks `bytes` against `format` and `expected_hash`; DataLoss naming the
// first field that disagrees.
StatusOr<BlockFileContents> ParseBlockFile(std::span<const uint8_t> bytes, const BlockFileFormat& format,
                                           const BlockHash& expected_hash);

// The file name of a block: 64 lowercase hex digits of its hash.
std::string BlockFileName(const BlockHash& hash);

}  // namespace tf
