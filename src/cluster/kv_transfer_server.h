// The prefill worker's side of KV transfer (`serve --role prefill`,
// --kv-transfer-port): accepts decode workers' connections, checks each
// request (cluster key, KV fingerprint, dtype, block size, block bytes,
// deadline), runs it through the engine as a prefill-only request and
// pushes every computed block as it completes. The engine's blocks are
// released as soon as the prompt is computed (they stay in its prefix cache);
// the copies in flight are dropped when the decode side acknowledges, the
// deadline passes or the connection breaks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "cluster/cluster_key.h"
#include "engine/generation.h"

namespace tf {

// One model the server prefills for (one per engine of the worker).
struct KvTransferTarget {
  std::string kv_fingerprint;
  uint32_t kv_type = 0;
  uint32_t block_size = 0;
  uint64_t block_bytes = 0;
  std::function<StatusOr<uint64_t>(GenerationRequest)> submit;  // the engine's Submit
  std::function<void(uint64_t)> abort;                          // and Abort
  // With a KV store shared with decode workers: writes a full block to it
  // now (Ok when it is there already); null without a store. Called on the
  // server's io thread.
  std::function<Status(const BlockHash& parent, std::span<const int32_t> tokens, std::span<const uint8_t> payload,
                       const BlockHash& hash)>
      persist;
};

struct KvTransferServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see port())
  const ClusterKey* key = nullptr;  // null: peers are not authenticated
  std::vector<KvTransferTarget> targets;
  int64_t handshake_timeout_ms = 10000;
  int64_t max_deadline_ms = 600000;
  int max_connections = 256;
};

struct KvTransferServerStats {
  std::atomic<uint64_t> transfers_started{0};
  std::atomic<uint64_t> transfers_acked{0};
  std::atomic<uint64_t> transfers_failed{0};  // deadline, broken connection, engine error
  std::atomic<uint64_t> refused{0};           // bad frames, keys, fingerprints
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> blocks_via_store{0};  // persisted to the shared store, sent as hashes
  std::atomic<int64_t> active{0};
  std::atomic<int64_t> bytes_held{0};  // block copies waiting to be sent or acknowledged
};

class KvTransferServer {
 public:
  static StatusOr<std::unique_ptr<KvTransferServer>> Start(KvTransferServerOptions options);
  ~KvTransferServer();
  uint16_t port() const { return port_; }
  // Closes the listener and every connection (aborting their requests),
  // then joins the io thread.
  void Stop();
  const KvTransferServerStats& stats() const { return *stats_; }

 private:
  struct Impl;
  KvTransferServer() = default;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<KvTransferServerStats> stats_;
  std::thread thread_;
  uint16_t port_ = 0;
};

// The server's counters as Prometheus text (tokenfab_kv_transfer_server_*).
std::string RenderKvTransferServerMetrics(const KvTransferServerStats& stats);

}  // namespace tf
