// KV events on the wire, modelled on vLLM's KV-event messages. A worker's
// ZMQ PUB socket sends one multipart message per engine step that changed
// its cached blocks:
//   frame 0: topic "kv-events"
//   frame 1: sequence number, uint64 big-endian (per publisher, from 1)
//   frame 2: msgpack array [timestamp_s (float64), [event, ...]]
// with each event a msgpack array tagged by its first element:
//   ["BlockStored",  [hash (bin 32), ...], parent (nil), token_ids ([]), block_size (int), lora (nil), medium ("cpu")]
//   ["BlockRemoved", [hash (bin 32), ...], medium ("cpu")]
//   ["AllBlocksCleared"]
// A hash is the block's 32-byte chained SHA-256 (kv/block_hash.h) starting
// from the worker's kv_fingerprint. Decoding treats the bytes as hostile.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kv/block_hash.h"

namespace tf {

inline constexpr const char* kKvEventsTopic = "kv-events";

struct KvEvent {
  enum class Kind { kStored, kRemoved, kAllCleared };
  Kind kind = Kind::kStored;
  std::vector<BlockHash> hashes;
};

struct KvEventBatch {
  uint64_t seq = 0;
  double timestamp_s = 0;
  std::vector<KvEvent> events;
};

std::string EncodeKvEventSeq(uint64_t seq);
std::string EncodeKvEventPayload(double timestamp_s, const std::vector<KvEvent>& events, int block_size);
// Bounded: at most 64 Ki events and 1 Mi hashes per message.
StatusOr<KvEventBatch> DecodeKvEventMessage(std::string_view seq_frame, std::string_view payload);

}  // namespace tf
