// The decode worker's side of KV transfer: a KvFillSource that connects to
// the prefill worker a request names, asks for the positions the engine
// lacks, and writes each pushed block into its reserved pool block once the
// block's checksum (XXH3-64) and, for a full block, its chained hash (the
// prefill worker computed the same tokens) verify. It stops at the first
// bad frame, a dead peer or the deadline; the engine computes whatever was
// not delivered.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "cluster/cluster_key.h"
#include "engine/kv_fill_source.h"

namespace tf {

struct KvTransferClientOptions {
  const ClusterKey* key = nullptr;  // null: the prefill worker is not authenticated
  int64_t default_deadline_ms = 30000;
  int64_t connect_timeout_ms = 3000;
};

struct KvTransferClientStats {
  std::atomic<uint64_t> fills{0};
  std::atomic<uint64_t> fills_complete{0};
  std::atomic<uint64_t> fills_failed{0};
  std::atomic<uint64_t> blocks_received{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> blocks_via_store{0};  // read from the shared KV store
  std::atomic<uint64_t> nanoseconds{0};  // connect to done, all fills
};

class KvTransferClient : public KvFillSource {
 public:
  explicit KvTransferClient(KvTransferClientOptions options);
  ~KvTransferClient() override;

  uint64_t StartFill(KvFillJob job, KvStorage* storage, std::function<void(KvFillResult)> done) override;
  void CancelFill(uint64_t fill_id) override;
  // Ends every fill (each `done` runs) and joins the io thread.
  void Stop();
  const KvTransferClientStats& stats() const { return *stats_; }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<KvTransferClientStats> stats_;
  std::thread thread_;
};

}  // namespace tf
