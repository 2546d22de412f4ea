// The KV transfer protocol between a decode worker (the client, which has
// reserved the blocks) and a prefill worker (the server, which computes the
// prompt and pushes the blocks' KV as they complete). Over TCP, every frame
// is a 12-byte header then its payload, integers little-endian:
//   0  magic "TFKV"   4  version u8 (1)   5  type u8   6  reserved u16 (0)
//   8  payload length u32
// The conversation (docs/CLUSTER.md has the full schema):
//   server → Hello{nonce_s}
//   client → PrefillRequest{request id, KV fingerprint, kv type, block size,
//            block bytes, first block, deadline, tokens, flags, nonce_c, mac}
//   server → Accept{mac} | Error
//   server → Block{index, tokens in it, chained hash, XXH3-64, payload} ...
//   server → Done{blocks sent} | Error
//   client → Ack           (the server drops its copies)
// The macs are HMAC-SHA256 under the cluster key over both nonces (and the
// request's digest), so each side knows the other holds the key and a
// recorded conversation cannot be replayed. Everything is parsed as
// untrusted input: lengths and counts bounded, errors naming the field.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/block_hash.h"

namespace tf {

inline constexpr uint8_t kKvTransferVersion = 1;
inline constexpr size_t kKvFrameHeaderBytes = 12;
inline constexpr uint32_t kMaxKvTransferTokens = 1u << 18;       // tokens one request may ask for
inline constexpr uint32_t kMaxKvBlockPayloadBytes = 64u << 20;   // one KV block (all layers)
inline constexpr size_t kMaxKvFingerprintBytes = 512;
inline constexpr size_t kMaxKvErrorBytes = 1024;

// PrefillRequest flag: both workers share a KV store directory; the server
// persists each full block there (synchronously) and sends its frame
// without payload, the client reads it from the store.
inline constexpr uint32_t kKvViaStore = 1;

enum class KvFrameType : uint8_t {
  kHello = 1,
  kPrefillRequest = 2,
  kAccept = 3,
  kBlock = 4,
  kDone = 5,
  kAck = 6,
  kError = 7,
};
const char* KvFrameTypeName(KvFrameType type);

using KvNonce = std::array<uint8_t, 16>;

struct KvFrameHeader {
  KvFrameType type = KvFrameType::kError;
  uint32_t payload_bytes = 0;
};

struct KvHello {
  KvNonce nonce{};
};

struct KvPrefillRequest {
  uint64_t request_id = 0;
  std::string kv_fingerprint;  // KvFingerprint(): model content, KV dtype, block size
  uint32_t kv_type = 0;        // DType as its integer value
  uint32_t block_size = 0;
  uint64_t block_bytes = 0;    // KvStorage::block_bytes()
  uint32_t first_block = 0;    // blocks before it the client holds already: not sent
  uint32_t deadline_ms = 0;    // from the request's arrival
  std::vector<int32_t> tokens; // the positions to compute: the prompt without its last token
  uint32_t flags = 0;          // kKvViaStore: full blocks go through the shared KV store
  KvNonce nonce{};
  std::string mac;             // 64 hex digits, or empty without a cluster key
};

struct KvAccept {
  std::string mac;  // 64 hex digits, or empty without a cluster key
};

struct KvBlockFrame {
  uint32_t index = 0;       // the block's position in the prompt (>= first_block)
  uint32_t num_tokens = 0;  // block_size, or fewer for the last, partial block
  BlockHash hash;           // chained hash of a full block; zero for a partial one
  uint64_t checksum = 0;    // XXH3-64 of the payload
  // A view into the parsed bytes; empty for a full block persisted in the
  // shared store (only in answer to a kKvViaStore request).
  std::span<const uint8_t> payload;
};

struct KvDone {
  uint32_t num_blocks = 0;
};

struct KvErrorFrame {
  std::string message;
};

// Header of a frame: magic, version, type, reserved bits and a payload
// length within the type's bound.
StatusOr<KvFrameHeader> ParseKvFrameHeader(std::span<const uint8_t> header);

// Payload decoders: the exact length, every count bounded.
StatusOr<KvHello> ParseKvHello(std::span<const uint8_t> payload);
StatusOr<KvPrefillRequest> ParseKvPrefillRequest(std::span<const uint8_t> payload);
StatusOr<KvAccept> ParseKvAccept(std::span<const uint8_t> payload);
StatusOr<KvBlockFrame> ParseKvBlockFrame(std::span<const uint8_t> payload);
StatusOr<KvDone> ParseKvDone(std::span<const uint8_t> payload);
StatusOr<KvErrorFrame> ParseKvError(std::span<const uint8_t> payload);

// Whole frames (header included).
std::vector<uint8_t> EncodeKvHello(const KvHello& hello);
std::vector<uint8_t> EncodeKvPrefillRequest(const KvPrefillRequest& request);
std::vector<uint8_t> EncodeKvAccept(const KvAccept& accept);
// The header and fixed fields of a block frame; the payload follows it on
// the wire (sent from its own buffer, not copied).
std::vector<uint8_t> EncodeKvBlockFrameHead(const KvBlockFrame& block);
std::vector<uint8_t> EncodeKvDone(const KvDone& done);
std::vector<uint8_t> EncodeKvAck();
std::vector<uint8_t> EncodeKvError(std::string_view message);

uint64_t KvPayloadChecksum(std::span<const uint8_t> payload);

// What the macs sign: the request's mac covers both nonces and a digest of
// the request encoded without its mac; the accept's covers both nonces and
// the request id, so neither can be replayed into another conversation.
std::string KvRequestMacMessage(const KvNonce& server_nonce, const KvPrefillRequest& request);
std::string KvAcceptMacMessage(const KvNonce& server_nonce, const KvPrefillRequest& request);

KvNonce RandomKvNonce();

}  // namespace tf
