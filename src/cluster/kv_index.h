// The router's map of which KV blocks each worker holds, kept from the
// workers' KV events. Per worker: the block set and the sequence number it
// reflects. A batch that does not follow on (a gap, or a restarted
// publisher counting from 1 again) marks the worker unsynced; batches then
// wait in a bounded buffer while the router fetches a snapshot, which
// replaces the set, after which the buffered batches newer than it apply.
// An unsynced worker counts as holding nothing. Io thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "cluster/kv_event_codec.h"

namespace tf {

struct KvSnapshot {
  uint64_t seq = 0;
  std::vector<BlockHash> hashes;
};

// GET /internal/v1/kv_blocks's body, checked (bounded, 64-hex hashes).
StatusOr<KvSnapshot> ParseKvSnapshot(const std::string& json);

class KvIndex {
 public:
  // Each returns true when the caller should fetch `worker`'s snapshot now
  // (none is in flight and the worker is not synced).
  bool OnBatch(const std::string& worker, KvEventBatch batch);
  bool OnSnapshot(const std::string& worker, KvSnapshot snapshot);
  void OnSnapshotFailed(const std::string& worker);
  // True (and marks a fetch in flight) when `worker` is unsynced and no
  // snapshot is being fetched: the router's retry tick asks this.
  bool ClaimSnapshot(const std::string& worker);
  // A worker joined (again): forget what was known, start unsynced.
  bool Reset(const std::string& worker);
  void Remove(const std::string& worker) { workers_.erase(worker); }

  // How many of `hashes` (a prompt's chain, in order) the worker holds as
  // a leading run.
  int64_t Overlap(const std::string& worker, std::span<const BlockHash> hashes) const;
  bool synced(const std::string& worker) const;
  int64_t num_blocks(const std::string& worker) const;
  int64_t num_resyncs() const { return num_resyncs_; }

 private:
  static constexpr size_t kMaxBuffered = 1024;
  struct Worker {
    std::unordered_set<BlockHash, BlockHashHasher> blocks;
    uint64_t seq = 0;
    bool synced = false;
    bool snapshot_in_flight = false;
    std::deque<KvEventBatch> buffered;
  };
  static void Apply(Worker& w, const KvEventBatch& batch);
  bool NeedSnapshot(Worker& w);

  std::unordered_map<std::string, Worker> workers_;
  int64_t num_resyncs_ = 0;
};

}  // namespace tf
