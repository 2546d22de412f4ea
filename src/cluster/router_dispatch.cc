// RouterBackend's request path: submit, pick a worker, stream its deltas to
// the client, and move the request when its worker fails.
#include <algorithm>

#include <fmt/format.h>

#include "base/logging.h"
#include "cluster/router_backend.h"
#include "cluster/worker_protocol.h"
#include "kv/block_hash.h"

namespace tf {
namespace {

namespace http = boost::beast::http;

// The keys of the full blocks of `tokens` as a worker of `kv_fingerprint` hashes them.
std::vector<BlockHash> ChainHashes(const std::string& kv_fingerprint, int block_size, const std::vector<int32_t>& tokens) {
  return ChainBlockHashes(RootBlockHash(kv_fingerprint), tokens, block_size,
                          static_cast<int64_t>(tokens.size()) / block_size);
}

// Everything the next worker must take in: the prompt and every output
// token so far (the original continuation's and ours).
std::vector<int32_t> ContextTokens(const GenerationRequest& g, const std::vector<int32_t>& generated) {
  std::vector<int32_t> tokens = g.prompt;
  tokens.insert(tokens.end(), g.continued.begin(), g.continued.end());
  tokens.insert(tokens.end(), generated.begin(), generated.end());
  return tokens;
}

}  // namespace

StatusOr<uint64_t> RouterBackend::Submit(const ServedModel& model, GenerationRequest request) {
  ModelSlot* slot = nullptr;
  for (const auto& m : models_) {
    if (m->served.get() == &model) slot = m.get();
  }
  if (slot == nullptr) return NotFoundError(fmt::format("model '{}' is not served here", model.name)).WithParam("model");
  TF_RETURN_IF_ERROR(ValidateGenerationRequest(request, model.n_vocab, model.ctx_size));
  if (stopped_) return UnavailableError("the router is stopping");
  auto r = std::make_unique<Routed>();
  r->handle = next_handle_++;
  r->model = slot;
  r->num_draws = request.num_draws_done;
  r->request = std::move(request);
  if (!HasCandidate(*r)) {
    return UnavailableError(fmt::format("no worker serving '{}' is available; retry later", model.name));
  }
  Routed& ref = *r;
  requests_.emplace(ref.handle, std::move(r));
  ++counters_.routed;
  if (!Dispatch(ref)) return UnavailableError("no worker is available");  // not reached: HasCandidate found one
  return ref.handle;
}

bool RouterBackend::HasCandidate(const Routed& r) const {
  for (const auto& [address, w] : workers_) {
    if (w.model == r.model && r.excluded.count(address) == 0 && w.entry.role != "prefill") return true;
  }
  return false;
}

RouterBackend::Worker* RouterBackend::PickWorker(const Routed& r) {
  std::vector<Worker*> pool;
  for (auto& [address, w] : workers_) {
    if (w.model == r.model && r.excluded.count(address) == 0 && w.entry.role != "prefill") pool.push_back(&w);
  }
  if (pool.empty()) return nullptr;
  const std::vector<int32_t> tokens = ContextTokens(r.request, r.generated);
  std::vector<RouteCandidate> candidates;
  std::map<std::string, std::vector<BlockHash>> hashes_by_fingerprint;
  int64_t prompt_blocks = 0;
  for (Worker* w : pool) {
    RouteCandidate c;
    c.active_blocks = w->active_blocks;
    c.active_requests = w->active_requests;
    if (options_.mode == RouterMode::kKv) {
      const std::string fp_key = fmt::format("{}#{}", w->entry.kv_fingerprint, w->entry.block_size);
      auto it = hashes_by_fingerprint.find(fp_key);
      if (it == hashes_by_fingerprint.end()) {
        it = hashes_by_fingerprint.emplace(fp_key, ChainHashes(w->entry.kv_fingerprint, w->entry.block_size, tokens)).first;
      }
      c.cached_blocks = kv_index_.Overlap(w->entry.address, it->second);
      c.kv_usage = static_cast<double>(kv_index_.num_blocks(w->entry.address)) /
                   static_cast<double>(std::max<int64_t>(1, w->entry.kv_capacity_blocks));
      prompt_blocks = std::max<int64_t>(prompt_blocks, (static_cast<int64_t>(tokens.size()) + w->entry.block_size - 1) /
                                                           w->entry.block_size);
    }
    candidates.push_back(c);
  }
  return pool[ChooseWorker(options_.mode, options_.overlap_weight, prompt_blocks, candidates, &round_robin_)];
}

bool RouterBackend::Dispatch(Routed& r) {
  Worker* w = PickWorker(r);
  if (w == nullptr) return false;
  GenerationRequest g;
  g.prompt = r.request.prompt;
  g.continued = r.request.continued;
  g.continued.insert(g.continued.end(), r.generated.begin(), r.generated.end());
  g.num_draws_done = r.num_draws;
  g.sampling = r.request.sampling;
  g.max_tokens = r.request.max_tokens - static_cast<int64_t>(r.generated.size());
  g.stop = r.request.stop;
  g.ignore_eos = r.request.ignore_eos;
  g.top_logprobs = r.request.top_logprobs;
  g.json_object = r.request.json_object;
  PlanPrefill(r, *w, &g);
  const int block_size = std::max(1, w->entry.block_size);
  r.worker = w->entry.address;
  r.blocks = (static_cast<int64_t>(g.prompt.size() + g.continued.size()) + g.max_tokens + block_size - 1) / block_size;
  ++w->active_requests;
  w->active_blocks += r.blocks;

  HttpCallSpec spec;
  spec.host = w->host;
  spec.port = w->port;
  spec.method = http::verb::post;
  spec.target = kInternalGeneratePath;
  spec.body = WorkerGenerateRequestToJson(r.model->served->name, g);
  spec.headers = AuthHeaders("POST", spec.target, spec.body);
  spec.connect_timeout = options_.connect_timeout;
  spec.idle_timeout = options_.upstream_timeout;
  UpstreamCallbacks cb;
  const uint64_t handle = r.handle;
  cb.on_delta = [this, handle](StreamDelta d) { OnDelta(handle, std::move(d)); };
  cb.on_failed = [this, handle](int status, const Status& why) { OnFailed(handle, status, why); };
  r.upstream = UpstreamStream::Start(io_, std::move(spec), std::move(cb));
  return true;
}

// Idempotent: the attempt's charge is taken off its worker once.
void RouterBackend::Release(Routed& r) {
  ReleasePrefill(r);
  if (r.worker.empty()) return;
  if (auto it = workers_.find(r.worker); it != workers_.end()) {
    it->second.active_requests = std::max<int64_t>(0, it->second.active_requests - 1);
    it->second.active_blocks = std::max<int64_t>(0, it->second.active_blocks - r.blocks);
  }
  r.blocks = 0;
  r.worker.clear();
}

void RouterBackend::OnDelta(uint64_t handle, StreamDelta delta) {
  const auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  Routed& r = *it->second;
  ReleasePrefill(r);  // a token came back: the prompt is computed
  if (delta.num_tokens == 1 && delta.token >= 0) r.generated.push_back(delta.token);
  r.num_draws = std::max(r.num_draws, delta.num_draws);
  const Vocab& vocab = r.model->served->tokenizer->vocab();
  for (TokenLogprob& lp : delta.logprobs) {
    if (lp.token >= 0 && lp.token < vocab.size()) lp.piece = vocab.token(lp.token).text;
  }
  const bool worker_gave_up = delta.finished && (delta.finish_reason == FinishReason::kAbort ||
                                                 delta.finish_reason == FinishReason::kError);
  if (worker_gave_up) {
    // The worker aborted it (a drain that ran out of time, an engine
    // failure): not the client's doing, so the request moves on.
    r.upstream.reset();
    r.excluded.insert(r.worker);
    return Move(r, fmt::format("worker {} ended it ({}: {})", r.worker, FinishReasonName(delta.finish_reason), delta.error));
  }
  const bool finished = delta.finished;
  std::shared_ptr<RequestSink> sink = r.request.sink;
  if (finished) {
    Release(r);
    requests_.erase(it);
  }
  sink->OnDelta(std::move(delta));
}

void RouterBackend::OnFailed(uint64_t handle, int http_status, const Status& why) {
  const auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  Routed& r = *it->second;
  r.upstream.reset();
  r.excluded.insert(r.worker);
  if (http_status == 429 || http_status == 503) {
    // At capacity or draining: the next best worker, without counting a move.
    ++counters_.busy_redirects;
    Release(r);
    if (Dispatch(r)) return;
    return FinishWithError(r, fmt::format("every worker is at capacity or unavailable ({})", why.message()));
  }
  if (http_status != 0) return FinishWithError(r, why.message());
  Move(r, why.message());
}

void RouterBackend::Move(Routed& r, const std::string& why) {
  Release(r);
  if (r.request.max_tokens - static_cast<int64_t>(r.generated.size()) <= 0) {
    // Every token was streamed; only the final event was lost.
    return End(r, FinishReason::kLength, "");
  }
  if (r.num_moves >= options_.migration_limit) {
    return FinishWithError(r, fmt::format("the request failed on {} workers (migration limit {}); last: {}",
                                          r.num_moves + 1, options_.migration_limit, why));
  }
  ++r.num_moves;
  ++counters_.migrations;
  TF_LOG_WARN("router: request {} moves after {} tokens ({}); move {} of {}", r.handle, r.generated.size(), why,
              r.num_moves, options_.migration_limit);
  if (!Dispatch(r)) {
    FinishWithError(r, fmt::format("no other worker to move the request to ({})", why));
  }
}

void RouterBackend::FinishWithError(Routed& r, const std::string& message) {
  ++counters_.failed;
  End(r, FinishReason::kError, message);
}

void RouterBackend::End(Routed& r, FinishReason reason, const std::string& error) {
  Release(r);
  if (r.upstream) r.upstream->Cancel();
  StreamDelta last;
  last.finished = true;
  last.finish_reason = reason;
  last.error = error;
  last.num_draws = r.num_draws;
  last.usage.prompt_tokens = static_cast<int64_t>(r.request.prompt.size());
  last.usage.completion_tokens = static_cast<int64_t>(r.request.continued.size() + r.generated.size());
  std::shared_ptr<RequestSink> sink = r.request.sink;
  requests_.erase(r.handle);  // `r` is gone from here on
  sink->OnDelta(std::move(last));
}

void RouterBackend::Abort(uint64_t handle) {
  const auto it = requests_.find(handle);
  if (it == requests_.end()) return;
  // Cancelling the call closes its connection: the worker sees its client go and aborts.
  End(*it->second, FinishReason::kAbort, "");
}

}  // namespace tf
