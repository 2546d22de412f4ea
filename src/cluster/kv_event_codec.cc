#define MSGPACK_NO_BOOST
#include "cluster/kv_event_codec.h"

#include <cstring>

#include <fmt/format.h>
#include <msgpack.hpp>

namespace tf {
namespace {

constexpr size_t kMaxEvents = 64 * 1024;
constexpr size_t kMaxHashes = 1024 * 1024;

void PackHashes(msgpack::packer<msgpack::sbuffer>& pk, const std::vector<BlockHash>& hashes) {
  pk.pack_array(static_cast<uint32_t>(hashes.size()));
  for (const BlockHash& h : hashes) {
    pk.pack_bin(32);
    pk.pack_bin_body(reinterpret_cast<const char*>(h.bytes.data()), 32);
  }
}

Status Bad(const std::string& what) { return DataLossError("KV event message: " + what); }

StatusOr<std::vector<BlockHash>> ReadHashes(const msgpack::object& o, size_t* total) {
  if (o.type != msgpack::type::ARRAY) return Bad("block hashes are not an array");
  std::vector<BlockHash> out;
  *total += o.via.array.size;
  if (*total > kMaxHashes) return Bad("too many hashes");
  out.reserve(o.via.array.size);
  for (uint32_t i = 0; i < o.via.array.size; ++i) {
    const msgpack::object& h = o.via.array.ptr[i];
    if (h.type != msgpack::type::BIN || h.via.bin.size != 32) return Bad("a block hash is not 32 bytes of bin");
    BlockHash hash;
    std::memcpy(hash.bytes.data(), h.via.bin.ptr, 32);
    out.push_back(hash);
  }
  return out;
}

StatusOr<KvEvent> ReadEvent(const msgpack::object& o, size_t* total_hashes) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size == 0) return Bad("an event is not a tagged array");
  const msgpack::object& tag = o.via.array.ptr[0];
  if (tag.type != msgpack::type::STR) return Bad("an event's tag is not a string");
  const std::string_view name(tag.via.str.ptr, tag.via.str.size);
  KvEvent e;
  if (name == "AllBlocksCleared") {
    e.kind = KvEvent::Kind::kAllCleared;
    return e;
  }
  if (name == "BlockStored") {
    e.kind = KvEvent::Kind::kStored;
  } else if (name == "BlockRemoved") {
    e.kind = KvEvent::Kind::kRemoved;
  } else {
    return Bad(fmt::format("unknown event '{}'", name.substr(0, 64)));
  }
  if (o.via.array.size < 2) return Bad("an event without hashes");
  TF_ASSIGN_OR_RETURN(e.hashes, ReadHashes(o.via.array.ptr[1], total_hashes));
  return e;
}

}  // namespace

std::string EncodeKvEventSeq(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  return out;
}

std::string EncodeKvEventPayload(double timestamp_s, const std::vector<KvEvent>& events, int block_size) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> pk(&buffer);
  pk.pack_array(2);
  pk.pack_double(timestamp_s);
  pk.pack_array(static_cast<uint32_t>(events.size()));
  for (const KvEvent& e : events) {
    switch (e.kind) {
      case KvEvent::Kind::kAllCleared:
        pk.pack_array(1);
        pk.pack(std::string("AllBlocksCleared"));
        break;
      case KvEvent::Kind::kStored:
        pk.pack_array(7);
        pk.pack(std::string("BlockStored"));
        PackHashes(pk, e.hashes);
        pk.pack_nil();
        pk.pack_array(0);
        pk.pack_int(block_size);
        pk.pack_nil();
        pk.pack(std::string("cpu"));
        break;
      case KvEvent::Kind::kRemoved:
        pk.pack_array(3);
        pk.pack(std::string("BlockRemoved"));
        PackHashes(pk, e.hashes);
        pk.pack(std::string("cpu"));
        break;
    }
  }
  return std::string(buffer.data(), buffer.size());
}

StatusOr<KvEventBatch> DecodeKvEventMessage(std::string_view seq_frame, std::string_view payload) {
  if (seq_frame.size() != 8) return Bad(fmt::format("the sequence frame has {} bytes, not 8", seq_frame.size()));
  KvEventBatch batch;
  for (unsigned char c : seq_frame) batch.seq = (batch.seq << 8) | c;
  msgpack::object_handle handle;
  try {
    // Limits: array sizes, map sizes, str, bin, ext, nesting depth.
    const msgpack::unpack_limit limits(kMaxHashes, 16, 4096, 64, 64, 8);
    handle = msgpack::unpack(payload.data(), payload.size(), nullptr, nullptr, limits);
  } catch (const std::exception& e) {
    return Bad(fmt::format("not msgpack: {}", e.what()));
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size < 2) return Bad("the payload is not [timestamp, events]");
  const msgpack::object& ts = root.via.array.ptr[0];
  if (ts.type == msgpack::type::FLOAT64 || ts.type == msgpack::type::FLOAT32) {
    batch.timestamp_s = ts.via.f64;
  } else if (ts.type == msgpack::type::POSITIVE_INTEGER) {
    batch.timestamp_s = static_cast<double>(ts.via.u64);
  } else {
    return Bad("the timestamp is not a number");
  }
  const msgpack::object& list = root.via.array.ptr[1];
  if (list.type != msgpack::type::ARRAY) return Bad("the events are not an array");
  if (list.via.array.size > kMaxEvents) return Bad("too many events");
  size_t total_hashes = 0;
  for (uint32_t i = 0; i < list.via.array.size; ++i) {
    TF_ASSIGN_OR_RETURN(KvEvent e, ReadEvent(list.via.array.ptr[i], &total_hashes));
    batch.events.push_back(std::move(e));
  }
  return batch;
}

}  // namespace tf
