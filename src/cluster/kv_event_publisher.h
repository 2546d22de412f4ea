// A worker's KV-event publisher: the engine's block-pool changes become
// KV event messages (kv_event_codec.h) on a ZMQ PUB socket, and a mirror of
// the cached block set, with the sequence number it reflects, answers the
// snapshot a router fetches (GET /internal/v1/kv_blocks) when it starts
// late or sees a gap. OnKvEvents runs on the engine thread and never
// blocks (PUB drops what a slow subscriber cannot take; its gap tells it
// to fetch a snapshot); SnapshotJson runs on the io thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>

#include "base/status.h"
#include "cluster/kv_event_codec.h"
#include "engine/engine.h"

namespace tf {

class KvEventPublisher final : public KvEventListener {
 public:
  // Binds tcp://host:port (port 0: any free port; see endpoint()).
  static StatusOr<std::unique_ptr<KvEventPublisher>> Bind(const std::string& host, int port, int block_size);
  ~KvEventPublisher() override;

  void OnKvEvents(std::vector<BlockPoolEvent> events) override;
  // {"seq": last sequence number sent, "block_size": n, "hashes": [hex, ...]}
  std::string SnapshotJson() const;
  // host:port the socket is bound to.
  const std::string& endpoint() const { return endpoint_; }
  uint64_t seq() const;

 private:
  KvEventPublisher(void* context, void* socket, std::string endpoint, int block_size);
  void Send(const std::vector<KvEvent>& events);

  void* context_;
  void* socket_;
  std::string endpoint_;
  int block_size_;
  mutable std::mutex mu_;
  uint64_t seq_ = 0;
  std::unordered_set<BlockHash, BlockHashHasher> cached_;
};

}  // namespace tf
