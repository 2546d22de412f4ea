#include "cluster/kv_index.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tf {
StatusOr<KvSnapshot> ParseKvSnapshot(const std::string& json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object()) return DataLossError("KV snapshot: not a JSON object");
  if (!j.contains("seq") || !j["seq"].is_number_unsigned()) return DataLossError("KV snapshot: 'seq' is not an unsigned integer");
  if (!j.contains("hashes") || !j["hashes"].is_array()) return DataLossError("KV snapshot: 'hashes' is not an array");
  if (j["hashes"].size() > (size_t{1} << 24)) return DataLossError("KV snapshot: too many hashes");
  KvSnapshot s;
  s.seq = j["seq"].get<uint64_t>();
  s.hashes.reserve(j["hashes"].size());
  for (const auto& h : j["hashes"]) {
    const std::optional<BlockHash> hash =
        h.is_string() ? ParseBlockHashHex(h.get_ref<const std::string&>()) : std::nullopt;
    if (!hash) return DataLossError("KV snapshot: a hash is not 64 lowercase hex digits");
    s.hashes.push_back(*hash);
  }
  return s;
}

void KvIndex::Apply(Worker& w, const KvEventBatch& batch) {
  for (const KvEvent& e : batch.events) {
    switch (e.kind) {
      case KvEvent::Kind::kStored:
        w.blocks.insert(e.hashes.begin(), e.hashes.end());
        break;
      case KvEvent::Kind::kRemoved:
        for (const BlockHash& h : e.hashes) w.blocks.erase(h);
        break;
      case KvEvent::Kind::kAllCleared:
        w.blocks.clear();
        break;
    }
  }
  w.seq = batch.seq;
}

bool KvIndex::NeedSnapshot(Worker& w) {
  if (w.synced || w.snapshot_in_flight) return false;
  w.snapshot_in_flight = true;
  ++num_resyncs_;
  return true;
}

bool KvIndex::OnBatch(const std::string& worker, KvEventBatch batch) {
  Worker& w = workers_[worker];
  if (w.synced) {
    if (batch.seq == w.seq + 1) {
      Apply(w, batch);
      return false;
    }
    // A gap, or a publisher that restarted: what we hold is stale.
    w.synced = false;
    w.blocks.clear();
  }
  w.buffered.push_back(std::move(batch));
  if (w.buffered.size() > kMaxBuffered) w.buffered.pop_front();
  return NeedSnapshot(w);
}

bool KvIndex::OnSnapshot(const std::string& worker, KvSnapshot snapshot) {
  Worker& w = workers_[worker];
  w.snapshot_in_flight = false;
  w.blocks.clear();
  w.blocks.insert(snapshot.hashes.begin(), snapshot.hashes.end());
  w.seq = snapshot.seq;
  w.synced = true;
  while (!w.buffered.empty()) {
    KvEventBatch b = std::move(w.buffered.front());
    w.buffered.pop_front();
    if (b.seq <= w.seq) continue;  // already in the snapshot
    if (b.seq != w.seq + 1) {
      // Still a hole between the snapshot and what we have: ask again.
      w.synced = false;
      w.blocks.clear();
      w.buffered.push_front(std::move(b));
      return NeedSnapshot(w);
    }
    Apply(w, b);
  }
  return false;
}

void KvIndex::OnSnapshotFailed(const std::string& worker) {
  const auto it = workers_.find(worker);
  if (it != workers_.end()) it->second.snapshot_in_flight = false;
}

bool KvIndex::ClaimSnapshot(const std::string& worker) {
  const auto it = workers_.find(worker);
  return it != workers_.end() && NeedSnapshot(it->second);
}

bool KvIndex::Reset(const std::string& worker) {
  Worker& w = workers_[worker];
  const bool in_flight = w.snapshot_in_flight;
  w = Worker{};
  w.snapshot_in_flight = in_flight;
  return NeedSnapshot(w);
}

int64_t KvIndex::Overlap(const std::string& worker, std::span<const BlockHash> hashes) const {
  const auto it = workers_.find(worker);
  if (it == workers_.end() || !it->second.synced) return 0;
  int64_t n = 0;
  for (const BlockHash& h : hashes) {
    if (it->second.blocks.count(h) == 0) break;
    ++n;
  }
  return n;
}

bool KvIndex::synced(const std::string& worker) const {
  const auto it = workers_.find(worker);
  return it != workers_.end() && it->second.synced;
}

int64_t KvIndex::num_blocks(const std::string& worker) const {
  const auto it = workers_.find(worker);
  return it == workers_.end() ? 0 : static_cast<int64_t>(it->second.blocks.size());
}

}  // namespace tf
