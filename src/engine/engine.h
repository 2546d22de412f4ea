// The serving engine: one thread that owns the scheduler, the KV manager and
// the model runner, and runs one batched forward pass per step over every
// scheduled request (decodes and prompt chunks together). Other threads talk
// to it only through Submit/Abort (a locked inbox) and the sinks it calls.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/generation.h"
#include "engine/active_request.h"
#include "engine/kv_fill_source.h"
#include "engine/kv_store_io.h"
#include "engine/model_runner.h"
#include "engine/text_pieces.h"
#include "kv/kv_manager.h"
#include "kvstore/block_store.h"
#include "model/model.h"
#include "sched/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace tf {

// Receives the changes to the set of cached KV blocks, in order, on the
// engine thread after each step that made some (a worker publishes them as
// KV events). Must not block.
class KvEventListener {
 public:
  virtual ~KvEventListener() = default;
  virtual void OnKvEvents(std::vector<BlockPoolEvent> events) = 0;
};

struct EngineConfig {
  SchedulerConfig sched;
  int block_size = 16;          // tokens per KV block
  int64_t num_kv_blocks = 0;    // the pool; see KvBlocksForBytes
  DType kv_type = DType::kF32;
  int64_t ctx_size = 2048;      // most tokens (prompt + output) one request may hold
  bool prefix_cache = true;
  // The second tier: a KV block store directory shared with other
  // processes (empty: none), its capacity, and how many block writes may
  // wait for the I/O thread before new ones are skipped.
  std::string kv_store_dir;
  double kv_store_gib = 0;
  size_t kv_store_max_queued_writes = 256;
  bool warmup = true;  // one forward pass at start, off the first request's clock
  KvEventListener* kv_events = nullptr;  // must outlive the engine; null: none
  // Disaggregation: where requests with a remote_prefill get their prompt
  // KV (must outlive the engine); null: they compute it here.
  KvFillSource* kv_fills = nullptr;
};

// What the prefix-cache keys start from (RootBlockHash of it): the model's
// content fingerprint and the KV format. A router hashes prompts from it.
std::string KvFingerprint(const std::string& fingerprint, DType kv_type, int block_size);

// Blocks that fit `bytes` of KV memory for `model`.
int64_t KvBlocksForBytes(const Model& model, DType kv_type, int block_size, double bytes);

// A consistent snapshot for /metrics and tests.
struct EngineStats {
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_cached = 0;
  int64_t prefix_query_tokens = 0;
  int64_t prefix_hit_tokens = 0;
  int64_t num_preemptions = 0;
  int64_t num_steps = 0;
  int64_t prompt_tokens_computed = 0;
  int64_t generated_tokens = 0;
  // Disaggregation, decode side: fills started, prompt tokens and bytes a
  // prefill worker delivered, and fills that fell short (their rest was
  // computed here); prefill side: blocks exported.
  int64_t remote_fills = 0;
  int64_t remote_filled_tokens = 0;
  int64_t remote_fill_failures = 0;
  uint64_t remote_fill_bytes = 0;
  int64_t blocks_exported = 0;
  KvStoreStats store;
};

// What a KV transfer peer must match: the cache's element type (DType's
// value), tokens per block and bytes per exported block.
struct KvStorageInfo {
  uint32_t kv_type = 0;
  uint32_t block_size = 0;
  uint64_t block_bytes = 0;
};

class Engine {
 public:
  // `model`, `tokenizer` and `pool` must outlive the engine. `fingerprint`
  // names the model's content for prefix-cache keys (and the store's).
  static StatusOr<std::unique_ptr<Engine>> Create(Model* model, const Tokenizer* tokenizer, ThreadPool* pool,
                                                  const EngineConfig& config, const std::string& fingerprint);
  ~Engine();

  // Thread-safe. Queues a request and returns its handle. InvalidArgument
  // for a prompt that does not fit the context, ResourceExhausted when the
  // queue is full, Unavailable once the engine has stopped or died.
  StatusOr<uint64_t> Submit(GenerationRequest request);
  // Thread-safe. Ends the request within one step (finish reason abort) and
  // frees its blocks; unknown or finished handles are ignored.
  void Abort(uint64_t handle);
  // Thread-safe. Aborts everything and joins the engine thread.
  void Shutdown();

  EngineStats stats() const;
  bool alive() const { return alive_.load(); }
  const EngineConfig& config() const { return config_; }
  // The KV store, or null without one.
  const BlockStore* store() const { return store_.get(); }
  // The store for other threads' reads and writes (BlockStore is thread-safe).
  BlockStore* shared_store() { return store_.get(); }
  const std::string& kv_fingerprint() const { return kv_fingerprint_; }
  KvStorageInfo kv_storage_info() const;
  // Test hook: the next forward pass fails as if the model had.
  void InjectForwardFailure() { inject_failure_.store(true); }
  // Tests: while held, submitted requests (and aborts) stay in the inbox, so
  // several can be made to arrive in one step regardless of thread timing.
  void HoldInbox(bool hold);

 private:
  Engine(Model* model, const Tokenizer* tokenizer, const EngineConfig& config, std::unique_ptr<ModelRunner> runner,
         const std::string& kv_fingerprint, std::unique_ptr<BlockStore> store);
  void Loop();
  // Moves submitted and aborted requests into the scheduler; blocks while
  // there is nothing to do. False when the engine should stop.
  bool DrainInbox();
  Status RunStep(const SchedulerOutput& out);
  void FinishRequest(ActiveRequest* r, FinishReason reason, const std::string& error = "");
  void FailEverything(const std::string& error);
  void PublishStats();
  void EmitKvEvents();
  // Queues the blocks cached by the last step for the store.
  void WriteThrough();
  // Hands finished store loads back to the scheduler.
  void TakeLoads();
  // Disaggregation (engine_disagg.cc): starts the step's remote fills, hands
  // finished ones back to the scheduler, exports prefill-only requests'
  // newly computed blocks (finishing those that are done), and at exit
  // cancels fills in flight and waits for them to let go of the blocks.
  void StartFills(std::vector<RemoteFill>& fills);
  void TakeFills();
  void ExportComputedBlocks(const SchedulerOutput& out);
  void StopFills();

  Model* model_;
  const Tokenizer* tokenizer_;
  EngineConfig config_;
  TextPieces pieces_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<BlockStore> store_;    // null without --kv-store
  std::unique_ptr<KvStoreIo> store_io_;  // stopped before runner_'s storage goes
  KvManager kv_;
  std::string kv_fingerprint_;
  Scheduler scheduler_;

  // Engine-thread state.
  std::unordered_map<uint64_t, std::unique_ptr<ActiveRequest>> requests_;
  std::unordered_map<SeqId, ActiveRequest*> by_seq_;
  std::vector<ActiveRequest*> sampled_;  // requests whose logits this step computes, in row order
  SeqId next_seq_id_ = 1;
  EngineStats counters_;
  bool waiting_for_io_ = false;  // nothing to compute until a store load is done

  // Shared with other threads.
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<uint64_t, GenerationRequest>> inbox_;
  bool inbox_held_ = false;
  std::vector<uint64_t> aborts_;
  bool loads_done_ = false;  // the I/O thread finished a load
  std::vector<std::pair<SeqId, KvFillResult>> fills_done_;
  int64_t fills_in_flight_ = 0;
  bool stopping_ = false;
  uint64_t next_handle_ = 1;
  int64_t num_in_flight_ = 0;  // submitted and not yet finished
  EngineStats published_;
  std::atomic<bool> alive_{true};
  std::atomic<bool> inject_failure_{false};
  std::thread thread_;
};

}  // namespace tf
