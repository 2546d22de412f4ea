#include "engine/engine.h"

#include <fmt/format.h>

#include "base/check.h"
#include "base/logging.h"

namespace tf {

int64_t KvBlocksForBytes(const Model& model, DType kv_type, int block_size, double bytes) {
  const double block_bytes = static_cast<double>(model.kv_layout().bytes_per_token(kv_type)) * block_size;
  return static_cast<int64_t>(bytes / block_bytes);
}

std::string KvFingerprint(const std::string& fingerprint, DType kv_type, int block_size) {
  return fmt::format("{}|kv={}|block={}", fingerprint, DTypeName(kv_type), block_size);
}

namespace {

StatusOr<std::unique_ptr<BlockStore>> OpenStore(const EngineConfig& config, const ModelRunner& runner,
                                                const std::string& kv_fingerprint) {
  if (config.kv_store_dir.empty()) return std::unique_ptr<BlockStore>();
  if (!config.prefix_cache) return InvalidArgumentError("--kv-store needs the prefix cache (drop --no-prefix-cache)");
  if (!(config.kv_store_gib > 0)) {
    return InvalidArgumentError(fmt::format("--kv-store-gib {} must be positive", config.kv_store_gib));
  }
  BlockStoreOptions options;
  options.dir = config.kv_store_dir;
  options.capacity_bytes = static_cast<uint64_t>(config.kv_store_gib * (1ull << 30));
  options.format.model_root = RootBlockHash(kv_fingerprint);
  options.format.kv_type = static_cast<uint32_t>(config.kv_type);
  options.format.block_size = static_cast<uint32_t>(config.block_size);
  options.format.n_layer = static_cast<uint32_t>(runner.kv().layout().n_layer);
  options.format.payload_bytes = runner.kv().block_bytes();
  return BlockStore::Open(options);
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> Engine::Create(Model* model, const Tokenizer* tokenizer, ThreadPool* pool,
                                                 const EngineConfig& config, const std::string& fingerprint) {
  if (config.block_size <= 0 || config.block_size > 1024) {
    return InvalidArgumentError(fmt::format("block size {} must be in [1, 1024]", config.block_size));
  }
  if (config.ctx_size <= 1) return InvalidArgumentError(fmt::format("--ctx-size {} must be at least 2", config.ctx_size));
  const int64_t ctx_blocks = (config.ctx_size + config.block_size - 1) / config.block_size;
  if (config.num_kv_blocks < ctx_blocks + config.sched.watermark_blocks) {
    return InvalidArgumentError(fmt::format(
        "the KV cache holds {} blocks of {} tokens, fewer than one request of --ctx-size {} needs ({} + {} reserve); "
        "raise --kv-cache-gib or lower --ctx-size",
        config.num_kv_blocks, config.block_size, config.ctx_size, ctx_blocks, config.sched.watermark_blocks));
  }
  if (config.sched.max_batch_tokens <= 0 || config.sched.max_num_seqs <= 0 || config.sched.max_queue < 0) {
    return InvalidArgumentError(fmt::format("--max-batch-tokens {} and --max-num-seqs {} must be positive",
                                            config.sched.max_batch_tokens, config.sched.max_num_seqs));
  }
  TF_ASSIGN_OR_RETURN(auto runner,
                      ModelRunner::Create(model, pool, {config.kv_type, config.block_size, config.num_kv_blocks}));
  // Opened (its directory checked) before any work that a refusal would waste.
  const std::string kv_fingerprint = KvFingerprint(fingerprint, config.kv_type, config.block_size);
  TF_ASSIGN_OR_RETURN(auto store, OpenStore(config, *runner, kv_fingerprint));
  // The pool hands out the lowest free block ids first and reuses freed
  // ones first: faulting in one context's worth now means the first
  // request after a start (computed, or loaded from the store) never waits
  // for page faults, at the cost of touching only that much memory.
  runner->kv().Prefault(0, static_cast<int32_t>(std::min(config.num_kv_blocks, ctx_blocks + config.sched.watermark_blocks)));
  // One throw-away forward pass, as llama.cpp warms up at load: the first
  // pass of a process pays for page tables, scratch buffers and thread
  // start-up (~0.14 s for TinyLlama here), which would otherwise land on
  // the first user's time to first token. Block 0 is free; whatever the
  // pass writes there is overwritten before anyone reads it.
  if (config.warmup) {
    const int32_t token = 0;
    const int32_t block = 0;
    runner->Add(std::span<const int32_t>(&token, 1), 0, std::span<const int32_t>(&block, 1), LogitRows::kLast);
    TF_RETURN_IF_ERROR(runner->Run());
    runner->Clear();
  }
  auto engine = std::unique_ptr<Engine>(
      new Engine(model, tokenizer, config, std::move(runner), kv_fingerprint, std::move(store)));
  engine->thread_ = std::thread([e = engine.get()] {
    e->Loop();
    e->StopFills();
  });
  return engine;
}

Engine::Engine(Model* model, const Tokenizer* tokenizer, const EngineConfig& config,
               std::unique_ptr<ModelRunner> runner, const std::string& kv_fingerprint,
               std::unique_ptr<BlockStore> store)
    : model_(model), tokenizer_(tokenizer), config_(config), pieces_(*tokenizer), runner_(std::move(runner)),
      store_(std::move(store)), kv_(config.block_size, config.num_kv_blocks, kv_fingerprint, config.prefix_cache),
      kv_fingerprint_(kv_fingerprint),
      scheduler_(
          [&] {
            // Submit bounds what is in flight; the scheduler's own queue
            // must hold all of it.
            SchedulerConfig sched = config.sched;
            sched.max_queue = config.sched.max_queue + config.sched.max_num_seqs;
            return sched;
          }(),
          &kv_,
          store_ ? TierLookup([store = store_.get()](const BlockHash& h) { return store->Contains(h); })
                 : TierLookup()) {
  if (store_) {
    store_io_ = std::make_unique<KvStoreIo>(store_.get(), &runner_->kv(), config.kv_store_max_queued_writes, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      loads_done_ = true;
      wake_.notify_one();
    });
    counters_.store.enabled = true;
  }
  if (config.kv_events != nullptr) kv_.RecordEvents();
  counters_.kv_blocks_total = config.num_kv_blocks;
  published_ = counters_;
}

Engine::~Engine() { Shutdown(); }

StatusOr<uint64_t> Engine::Submit(GenerationRequest request) {
  TF_RETURN_IF_ERROR(ValidateGenerationRequest(request, model_->config().n_vocab, config_.ctx_size));
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || !alive_.load()) return UnavailableError("the engine is not running");
  if (num_in_flight_ >= config_.sched.max_num_seqs + config_.sched.max_queue) {
    return ResourceExhaustedError(fmt::format("{} requests are queued or running; the limit is {}", num_in_flight_,
                                              config_.sched.max_num_seqs + config_.sched.max_queue));
  }
  const uint64_t handle = next_handle_++;
  ++num_in_flight_;
  inbox_.emplace_back(handle, std::move(request));
  wake_.notify_one();
  return handle;
}

void Engine::HoldInbox(bool hold) {
  std::lock_guard<std::mutex> lock(mu_);
  inbox_held_ = hold;
  wake_.notify_one();
}

void Engine::Abort(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  aborts_.push_back(handle);
  wake_.notify_one();
}

void Engine::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  if (store_io_) {
    store_io_->Stop();  // finishes queued writes: a restart finds them
    PublishStats();     // the engine thread is gone; its state is ours to read
  }
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

void Engine::EmitKvEvents() {
  if (config_.kv_events == nullptr) return;
  std::vector<BlockPoolEvent> events = kv_.TakeEvents();
  if (!events.empty()) config_.kv_events->OnKvEvents(std::move(events));
}

void Engine::PublishStats() {
  EmitKvEvents();
  counters_.num_running = static_cast<int64_t>(scheduler_.num_running());
  counters_.num_waiting = static_cast<int64_t>(scheduler_.num_waiting());
  counters_.kv_blocks_used = kv_.pool().num_used_blocks();
  counters_.kv_blocks_cached = kv_.pool().num_cached_blocks();
  counters_.prefix_query_tokens = kv_.prefix_query_tokens();
  counters_.prefix_hit_tokens = kv_.prefix_hit_tokens();
  counters_.num_preemptions = scheduler_.num_preemptions();
  if (store_) {
    KvStoreStats& st = counters_.store;
    st.query_tokens = scheduler_.store_query_tokens();
    st.hit_tokens = scheduler_.store_hit_tokens();
    const BlockStoreCounters& c = store_->counters();
    st.read_bytes = c.read_bytes.load();
    st.written_bytes = c.written_bytes.load();
    st.blocks_written = c.blocks_written.load();
    st.corrupt_deleted = c.corrupt_deleted.load();
    st.evictions = c.evictions.load();
    st.size_bytes = store_->size_bytes();
    st.num_files = store_->num_files();
    st.skipped_writes = store_io_->counters().skipped_writes.load();
    st.write_errors = store_io_->counters().write_errors.load();
    st.read_seconds = static_cast<double>(store_io_->counters().read_ns.load()) * 1e-9;
    st.import_seconds = static_cast<double>(store_io_->counters().import_ns.load()) * 1e-9;
  }
  std::lock_guard<std::mutex> lock(mu_);
  published_ = counters_;
}

bool Engine::DrainInbox() {
  std::deque<std::pair<uint64_t, GenerationRequest>> added;
  std::vector<uint64_t> aborted;
  bool stopping;
  {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] {
      const bool arrivals = !inbox_held_ && (!inbox_.empty() || !aborts_.empty());
      return stopping_ || arrivals || loads_done_ || !fills_done_.empty() || (!requests_.empty() && !waiting_for_io_);
    });
    waiting_for_io_ = false;
    loads_done_ = false;
    if (!inbox_held_) {  // an abort may name a request still in the inbox
      added.swap(inbox_);
      aborted.swap(aborts_);
    }
    stopping = stopping_;
  }
  for (auto& [handle, gen] : added) {
    auto state = std::make_unique<ActiveRequest>(handle, next_seq_id_++, std::move(gen), tokenizer_->vocab(), pieces_,
                                                config_.ctx_size);
    ActiveRequest* r = state.get();
    requests_.emplace(handle, std::move(state));
    by_seq_.emplace(r->request()->seq_id, r);
    r->request()->wants_remote_fill = r->generation().remote_prefill.has_value() && config_.kv_fills != nullptr;
    // Submit bounds the in-flight count, so the queue always has room.
    const bool queued = scheduler_.Add(r->request());
    if (!queued) FinishRequest(r, FinishReason::kError, "the scheduler's queue is full");
  }
  TakeLoads();
  TakeFills();
  for (uint64_t handle : aborted) {
    const auto it = requests_.find(handle);
    if (it != requests_.end()) FinishRequest(it->second.get(), FinishReason::kAbort);
  }
  if (stopping) {
    while (!requests_.empty()) FinishRequest(requests_.begin()->second.get(), FinishReason::kAbort);
    PublishStats();
    return false;
  }
  PublishStats();
  return true;
}

void Engine::TakeLoads() {
  if (!store_io_) return;
  for (const StoreLoadResult& done : store_io_->TakeLoaded()) {
    scheduler_.OnLoadDone(done.seq, done.filled);
    counters_.store.load_seconds.Observe(done.seconds);
  }
}

void Engine::WriteThrough() {
  if (!store_io_) return;
  for (PublishedBlock& b : scheduler_.TakePublished()) {
    if (store_->InIndex(b.hash)) continue;  // stored already (by us or a peer)
    if (!store_io_->CanQueueWrite()) {
      store_io_->CountSkippedWrite();  // never make a step wait for the disk
      continue;
    }
    StoreWrite w{b.parent, std::move(b.tokens), std::vector<uint8_t>(runner_->kv().block_bytes())};
    const Status exported = runner_->kv().ExportBlock(b.block, w.payload);
    TF_CHECK(exported.ok()) << exported.message();
    store_io_->QueueWrite(std::move(w));
  }
}

void Engine::FinishRequest(ActiveRequest* r, FinishReason reason, const std::string& error) {
  if (r->fill_id.has_value()) config_.kv_fills->CancelFill(*r->fill_id);  // its done frees the blocks
  scheduler_.Remove(r->request());
  r->Finish(reason, error);  // a no-op when the request already finished itself
  by_seq_.erase(r->request()->seq_id);
  requests_.erase(r->id());
  std::lock_guard<std::mutex> lock(mu_);
  --num_in_flight_;
}

void Engine::FailEverything(const std::string& error) {
  TF_LOG_ERROR("engine: {}; failing {} requests, the engine stops", error, requests_.size());
  alive_.store(false);
  while (!requests_.empty()) FinishRequest(requests_.begin()->second.get(), FinishReason::kError, error);
  std::lock_guard<std::mutex> lock(mu_);
  // Requests that arrive between the failure and this point still get an answer.
  for (auto& [handle, gen] : inbox_) {
    StreamDelta last;
    last.finished = true;
    last.finish_reason = FinishReason::kError;
    last.error = error;
    gen.sink->OnDelta(std::move(last));
    --num_in_flight_;
  }
  inbox_.clear();
}

Status Engine::RunStep(const SchedulerOutput& out) {
  runner_->Clear();
  sampled_.clear();
  for (const ScheduledSeq& s : out.seqs) {
    const Request& req = *s.request;
    const std::span<const int32_t> tokens(req.tokens.data() + req.num_computed_tokens,
                                          static_cast<size_t>(s.num_new_tokens));
    // Only a request whose last known token is computed gets logits: it samples next.
    const bool samples = req.num_computed_tokens + s.num_new_tokens == req.num_tokens() &&
                         !by_seq_.at(req.seq_id)->prefill_only();
    runner_->Add(tokens, req.num_computed_tokens, s.block_table, samples ? LogitRows::kLast : LogitRows::kNone);
    if (samples) sampled_.push_back(by_seq_.at(req.seq_id));
    if (req.num_computed_tokens < req.num_prompt_tokens) {
      counters_.prompt_tokens_computed += std::min(s.num_new_tokens, req.num_prompt_tokens - req.num_computed_tokens);
    }
  }
  if (inject_failure_.exchange(false)) return InternalError("injected forward-pass failure");
  TF_RETURN_IF_ERROR(runner_->Run());
  scheduler_.OnStepDone(out);
  WriteThrough();
  ExportComputedBlocks(out);  // may finish prefill-only requests: out's pointers to them die
  ++counters_.num_steps;
  for (size_t i = 0; i < sampled_.size(); ++i) {
    ActiveRequest* r = sampled_[i];
    r->SampleNext(runner_->logits(i));
    ++counters_.generated_tokens;
    if (r->finished()) FinishRequest(r, FinishReason::kStop);  // already reported; this releases it
  }
  return Status::Ok();
}

void Engine::Loop() {
  while (DrainInbox()) {
    if (requests_.empty()) continue;
    SchedulerOutput out = scheduler_.Schedule();
    for (StoreLoad& load : out.loads) store_io_->QueueLoad(std::move(load));
    StartFills(out.fills);
    if (out.empty()) {
      if (scheduler_.num_loading() > 0) {
        waiting_for_io_ = true;  // sleep until a load is done or a request arrives
        continue;
      }
      // Nothing could be admitted although nothing runs: the front request
      // cannot fit (Create and Submit make this unreachable; never spin).
      if (scheduler_.num_running() == 0 && !requests_.empty()) {
        FailEverything("a request does not fit in the KV cache");
        return;
      }
      continue;
    }
    const Status status = RunStep(out);
    if (!status.ok()) {
      FailEverything(fmt::format("forward pass failed: {}", status.message()));
      return;
    }
    PublishStats();
  }
}

}  // namespace tf
