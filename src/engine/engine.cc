#include "engine/engine.h"

#include <fmt/format.h>

#include "base/logging.h"

namespace tf {

int64_t KvBlocksForBytes(const Model& model, DType kv_type, int block_size, double bytes) {
  const double block_bytes = static_cast<double>(model.kv_layout().bytes_per_token(kv_type)) * block_size;
  return static_cast<int64_t>(bytes / block_bytes);
}

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
  auto engine = std::unique_ptr<Engine>(new Engine(model, tokenizer, config, std::move(runner), fingerprint));
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

Engine::Engine(Model* model, const Tokenizer* tokenizer, const EngineConfig& config,
               std::unique_ptr<ModelRunner> runner, const std::string& fingerprint)
    : model_(model), tokenizer_(tokenizer), config_(config), pieces_(*tokenizer), runner_(std::move(runner)),
      kv_(config.block_size, config.num_kv_blocks,
          fmt::format("{}|kv={}|block={}", fingerprint, DTypeName(config.kv_type), config.block_size),
          config.prefix_cache),
      scheduler_(
          [&] {
            // Submit bounds what is in flight; the scheduler's own queue
            // must hold all of it.
            SchedulerConfig sched = config.sched;
            sched.max_queue = config.sched.max_queue + config.sched.max_num_seqs;
            return sched;
          }(),
          &kv_) {
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
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

void Engine::PublishStats() {
  counters_.num_running = static_cast<int64_t>(scheduler_.num_running());
  counters_.num_waiting = static_cast<int64_t>(scheduler_.num_waiting());
  counters_.kv_blocks_used = kv_.pool().num_used_blocks();
  counters_.kv_blocks_cached = kv_.pool().num_cached_blocks();
  counters_.prefix_query_tokens = kv_.prefix_query_tokens();
  counters_.prefix_hit_tokens = kv_.prefix_hit_tokens();
  counters_.num_preemptions = scheduler_.num_preemptions();
  std::lock_guard<std::mutex> lock(mu_);
  published_ = counters_;
}

bool Engine::DrainInbox() {
  std::deque<std::pair<uint64_t, GenerationRequest>> added;
  std::vector<uint64_t> aborted;
  bool stopping;
  {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stopping_ || !inbox_.empty() || !aborts_.empty() || !requests_.empty(); });
    added.swap(inbox_);
    aborted.swap(aborts_);
    stopping = stopping_;
  }
  for (auto& [handle, gen] : added) {
    auto state = std::make_unique<ActiveRequest>(handle, next_seq_id_++, std::move(gen), tokenizer_->vocab(), pieces_,
                                                config_.ctx_size);
    ActiveRequest* r = state.get();
    requests_.emplace(handle, std::move(state));
    by_seq_.emplace(r->request()->seq_id, r);
    // Submit bounds the in-flight count, so the queue always has room.
    const bool queued = scheduler_.Add(r->request());
    if (!queued) FinishRequest(r, FinishReason::kError, "the scheduler's queue is full");
  }
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

void Engine::FinishRequest(ActiveRequest* r, FinishReason reason, const std::string& error) {
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
    const bool samples = req.num_computed_tokens + s.num_new_tokens == req.num_tokens();
    runner_->Add(tokens, req.num_computed_tokens, s.block_table, samples ? LogitRows::kLast : LogitRows::kNone);
    if (samples) sampled_.push_back(by_seq_.at(req.seq_id));
    if (req.num_computed_tokens < req.num_prompt_tokens) {
      counters_.prompt_tokens_computed += std::min(s.num_new_tokens, req.num_prompt_tokens - req.num_computed_tokens);
    }
  }
  if (inject_failure_.exchange(false)) return InternalError("injected forward-pass failure");
  TF_RETURN_IF_ERROR(runner_->Run());
  scheduler_.OnStepDone(out);
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
    const SchedulerOutput out = scheduler_.Schedule();
    if (out.empty()) {
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
