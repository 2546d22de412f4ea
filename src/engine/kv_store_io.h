// The engine's I/O thread for the KV store: block writes (write-through of
// every newly cached block) and block loads (a request's stored prefix read
// into its reserved blocks) happen here, never on the engine thread. Loads
// go before writes. The write queue is bounded: when it is full the engine
// skips the block (counted) rather than wait. The first write error (disk
// full, I/O error, the directory gone) stops writing with one warning;
// reads go on, and serving never notices beyond the misses.
//
// A load writes into KvStorage blocks that no forward pass reads until
// the load is reported done (the scheduler keeps them out of every block
// table), so the engine thread and this one never touch the same bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/histogram.h"
#include "kvstore/block_store.h"
#include "sched/scheduler.h"
#include "tensor/kv_storage.h"

namespace tf {

struct StoreWrite {
  BlockHash parent;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> payload;  // KvStorage::ExportBlock's bytes
};

struct StoreLoadResult {
  SeqId seq = 0;
  std::vector<BlockHash> filled;  // the first blocks of the load that verified
  double seconds = 0;             // from queueing to done
};

// The store's numbers for /metrics; zero without a store.
struct KvStoreStats {
  bool enabled = false;
  int64_t query_tokens = 0;  // prompt tokens looked up in the store (past the RAM hits)
  int64_t hit_tokens = 0;    // of those, loaded from it
  uint64_t read_bytes = 0;
  uint64_t written_bytes = 0;
  uint64_t blocks_written = 0;
  uint64_t skipped_writes = 0;
  uint64_t write_errors = 0;
  uint64_t corrupt_deleted = 0;
  uint64_t evictions = 0;
  uint64_t size_bytes = 0;
  uint64_t num_files = 0;
  Histogram load_seconds{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0}};
  double read_seconds = 0;    // of the loads: reading and verifying files
  double import_seconds = 0;  // of the loads: copying into the pool
  KvStoreStats& operator+=(const KvStoreStats& o);
};

struct KvStoreIoCounters {
  std::atomic<uint64_t> skipped_writes{0};  // queue full, or writing stopped
  std::atomic<uint64_t> write_errors{0};
  std::atomic<uint64_t> loads{0};
  std::atomic<uint64_t> blocks_missing{0};  // gone or corrupt when a load read them
  // Where load time goes: reading and verifying files, and copying them
  // into the pool (which includes faulting in never-touched pool pages).
  std::atomic<uint64_t> read_ns{0};
  std::atomic<uint64_t> import_ns{0};
};

class KvStoreIo {
 public:
  // `store` and `kv` must outlive this object. `on_load_done` runs on the
  // I/O thread after each load's result is ready for TakeLoaded.
  KvStoreIo(BlockStore* store, KvStorage* kv, size_t max_queued_writes, std::function<void()> on_load_done);
  ~KvStoreIo();

  // Engine thread. Whether a write would be accepted now.
  bool CanQueueWrite() const;
  void QueueWrite(StoreWrite write);
  void QueueLoad(StoreLoad load);
  std::vector<StoreLoadResult> TakeLoaded();
  // Finishes queued loads and writes, then joins the thread.
  void Stop();

  bool writing_stopped() const { return writing_stopped_.load(); }
  const KvStoreIoCounters& counters() const { return counters_; }
  void CountSkippedWrite() { counters_.skipped_writes.fetch_add(1); }

 private:
  struct QueuedLoad {
    StoreLoad load;
    std::chrono::steady_clock::time_point queued;
  };
  void Loop();
  void RunLoad(const QueuedLoad& q);
  void RunWrite(const StoreWrite& w);

  BlockStore* store_;
  KvStorage* kv_;
  size_t max_queued_writes_;
  std::function<void()> on_load_done_;
  std::atomic<bool> writing_stopped_{false};
  KvStoreIoCounters counters_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<QueuedLoad> loads_;
  std::deque<StoreWrite> writes_;
  std::vector<StoreLoadResult> done_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tf
