#include "sched/scheduler.h"

#include <algorithm>

#include "base/check.h"

namespace tf {

Scheduler::Scheduler(const SchedulerConfig& config, KvManager* kv, TierLookup in_store)
    : config_(config), kv_(kv), in_store_(std::move(in_store)) {
  TF_CHECK(config.max_batch_tokens > 0 && config.max_num_seqs > 0);
}

bool Scheduler::Add(Request* request) {
  if (static_cast<int64_t>(waiting_.size()) >= config_.max_queue) return false;
  request->state = RequestState::kWaiting;
  waiting_.push_back(request);
  return true;
}

void Scheduler::Remove(Request* request) {
  if (request->state == RequestState::kLoading) {
    // The store is still writing into its blocks: they are freed when the
    // load reports back.
    std::erase(loading_, request);
    abandoned_loads_.insert(request->seq_id);
    request->state = RequestState::kFinished;
    return;
  }
  std::erase(running_, request);
  std::erase(waiting_, request);
  kv_->Free(request->seq_id);
  request->state = RequestState::kFinished;
}

void Scheduler::Preempt(Request* r, SchedulerOutput* out) {
  std::erase(running_, r);
  kv_->Free(r->seq_id);
  r->num_computed_tokens = 0;
  r->state = RequestState::kWaiting;
  ++r->num_preemptions;
  ++num_preemptions_;
  waiting_.push_front(r);
  out->preempted.push_back(r);
}

int64_t Scheduler::StepTokens(const Request& r, int64_t budget) const {
  const bool prompt = r.num_pending_tokens() > 1;  // a decode has exactly one
  return std::min(r.num_pending_tokens(), prompt ? std::min(budget, prefill_left_) : budget);
}

void Scheduler::AddToStep(Request* r, int64_t n, SchedulerOutput* out) {
  if (r->num_pending_tokens() > 1) prefill_left_ -= n;
  out->seqs.push_back({r, n, {}});
  out->num_tokens += n;
}

bool Scheduler::ScheduleRunning(Request* r, int64_t budget, SchedulerOutput* out) {
  const int64_t n = StepTokens(*r, budget);
  if (n <= 0) return true;
  while (!kv_->Reserve(r->seq_id, r->num_computed_tokens + n)) {
    Request* victim = PickVictim(r, *out);
    Preempt(victim, out);
    if (victim == r) return false;
  }
  AddToStep(r, n, out);
  return true;
}

Request* Scheduler::PickVictim(const Request* r, const SchedulerOutput& out) const {
  const auto scheduled = [&](const Request* q) {
    return std::any_of(out.seqs.begin(), out.seqs.end(), [&](const ScheduledSeq& s) { return s.request == q; });
  };
  for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
    if (*it == r || !scheduled(*it)) return *it;
  }
  TF_CHECK(false) << "request " << r->seq_id << " is not running";
  return nullptr;
}

int64_t Scheduler::ShareableBlocks(const Request* r) const {
  // The last token is always computed (its logits are needed).
  return std::max<int64_t>(0, r->num_tokens() - 1) / kv_->block_size();
}

bool Scheduler::BeingProduced(const Request* r, int64_t b) const {
  const int64_t block_end = (b + 1) * kv_->block_size();
  const auto produces = [&](const Request* q) {
    return q != r && static_cast<int64_t>(q->block_hashes.size()) > b && q->block_hashes[b] == r->block_hashes[b] &&
           q->num_computed_tokens < block_end;
  };
  return std::any_of(running_.begin(), running_.end(), produces) ||
         std::any_of(loading_.begin(), loading_.end(), produces);
}

Scheduler::LoadStart Scheduler::TryStartLoad(Request* r, int64_t cached_blocks, SchedulerOutput* out) {
  const int64_t shareable = static_cast<int64_t>(r->block_hashes.size());
  int64_t stored = 0;
  while (cached_blocks + stored < shareable && in_store_(r->block_hashes[cached_blocks + stored])) ++stored;
  if (stored == 0) return LoadStart::kNothingStored;
  const int64_t bs = kv_->block_size();
  const int64_t tokens = (cached_blocks + stored) * bs;
  if (kv_->BlocksNeeded(r->seq_id, tokens) + config_.watermark_blocks > kv_->pool().num_free_blocks() ||
      !kv_->Reserve(r->seq_id, tokens)) {
    return LoadStart::kNoRoom;
  }
  StoreLoad load;
  load.seq = r->seq_id;
  const std::span<const int32_t> table = kv_->block_table(r->seq_id);
  load.blocks.assign(table.begin() + cached_blocks, table.begin() + cached_blocks + stored);
  load.hashes.assign(r->block_hashes.begin() + cached_blocks, r->block_hashes.begin() + cached_blocks + stored);
  out->loads.push_back(std::move(load));
  return LoadStart::kStarted;
}

Scheduler::LoadStart Scheduler::TryStartRemoteFill(Request* r, int64_t cached_blocks, SchedulerOutput* out) {
  const int64_t bs = kv_->block_size();
  const int64_t fill_tokens = r->num_tokens() - 1;  // the last is computed here: its logits
  if (cached_blocks * bs >= fill_tokens) return LoadStart::kNothingStored;
  if (kv_->BlocksNeeded(r->seq_id, fill_tokens) + config_.watermark_blocks > kv_->pool().num_free_blocks() ||
      !kv_->Reserve(r->seq_id, fill_tokens)) {
    return LoadStart::kNoRoom;
  }
  RemoteFill fill;
  fill.request = r;
  fill.first_block = cached_blocks;
  fill.num_tokens = fill_tokens;
  const std::span<const int32_t> table = kv_->block_table(r->seq_id);
  fill.blocks.assign(table.begin() + cached_blocks, table.end());
  const int64_t full_blocks = fill_tokens / bs;
  // Admission hashed them already unless the prefix cache is off.
  if (static_cast<int64_t>(r->block_hashes.size()) < full_blocks) r->block_hashes = kv_->ChainHashes(r->tokens, full_blocks);
  fill.hashes.assign(r->block_hashes.begin() + cached_blocks, r->block_hashes.begin() + full_blocks);
  out->fills.push_back(std::move(fill));
  return LoadStart::kStarted;
}

Scheduler::Admission Scheduler::TryAdmit(Request* r, int64_t* budget, SchedulerOutput* out) {
  const int64_t cached = kv_->AttachCachedPrefix(r->seq_id, r->tokens, /*count=*/false);
  const int64_t cached_blocks = cached / kv_->block_size();
  int64_t shareable = 0;
  if (kv_->prefix_cache_enabled()) {
    shareable = ShareableBlocks(r);
    if (static_cast<int64_t>(r->block_hashes.size()) != shareable) r->block_hashes = kv_->ChainHashes(r->tokens, shareable);
  }
  const auto give_back = [&](Admission a) {
    kv_->Free(r->seq_id);
    r->num_computed_tokens = 0;
    return a;
  };
  if (config_.wait_for_shared_prefix && cached_blocks < shareable && BeingProduced(r, cached_blocks)) {
    return give_back(Admission::kDeferred);
  }
  r->num_computed_tokens = cached;
  const bool probes_store = in_store_ && !r->store_probed && cached_blocks < shareable;
  // A refilled request's lookup was counted when its load began.
  const auto count_lookup = [&] {
    if (r->refilled) return;
    kv_->RecordPrefixLookup(r->num_tokens(), cached);
    if (probes_store) store_query_tokens_ += (shareable - cached_blocks) * kv_->block_size();
  };
  if (probes_store) {
    const LoadStart load = TryStartLoad(r, cached_blocks, out);
    if (load == LoadStart::kStarted) {
      count_lookup();
      r->store_probed = true;
      r->state = RequestState::kLoading;
      loading_.push_back(r);
      return Admission::kLoading;
    }
    if (load == LoadStart::kNoRoom) return give_back(Admission::kNoRoom);
  }
  if (r->wants_remote_fill) {
    const LoadStart fill = TryStartRemoteFill(r, cached_blocks, out);
    if (fill == LoadStart::kNoRoom) return give_back(Admission::kNoRoom);
    r->wants_remote_fill = false;  // asked once; a preempted request recomputes here
    if (fill == LoadStart::kStarted) {
      count_lookup();
      r->store_probed = true;
      r->num_cached_prompt_tokens = std::min(cached, r->num_prompt_tokens);
      r->state = RequestState::kLoading;
      loading_.push_back(r);
      return Admission::kLoading;
    }
  }
  const int64_t n = StepTokens(*r, *budget);
  if (n <= 0) return give_back(Admission::kNoRoom);
  // Admission leaves a reserve so the running requests can keep growing.
  const int64_t needed = kv_->BlocksNeeded(r->seq_id, r->num_computed_tokens + n) + config_.watermark_blocks;
  if (needed > kv_->pool().num_free_blocks() || !kv_->Reserve(r->seq_id, r->num_computed_tokens + n)) {
    return give_back(Admission::kNoRoom);
  }
  count_lookup();
  r->store_probed = true;
  r->refilled = false;
  if (r->num_preemptions == 0) r->num_cached_prompt_tokens = std::min(cached, r->num_prompt_tokens);
  r->state = RequestState::kRunning;
  running_.push_back(r);
  AddToStep(r, n, out);
  *budget -= n;
  return Admission::kAdmitted;
}

void Scheduler::ScheduleWaiting(int64_t* budget, SchedulerOutput* out) {
  for (auto it = waiting_.begin(); it != waiting_.end() && *budget > 0 &&
                                   static_cast<int>(running_.size() + loading_.size()) < config_.max_num_seqs;) {
    switch (TryAdmit(*it, budget, out)) {
      case Admission::kAdmitted:
      case Admission::kLoading:
        it = waiting_.erase(it);
        break;
      case Admission::kDeferred:
        ++it;  // later requests may go ahead of one waiting for a shared prefix
        break;
      case Admission::kNoRoom:
        return;
    }
  }
}

void Scheduler::ScheduleOldestFirst(int64_t* budget, SchedulerOutput* out) {
  for (size_t i = 0; i < running_.size() && *budget > 0; ++i) {
    Request* r = running_[i];
    const int64_t before = out->num_tokens;
    if (!ScheduleRunning(r, *budget, out)) break;
    *budget -= out->num_tokens - before;
  }
  // Admitting new work in a step that had to preempt would only thrash.
  if (out->preempted.empty()) ScheduleWaiting(budget, out);
}

void Scheduler::ScheduleShortestFirst(int64_t* budget, SchedulerOutput* out) {
  std::vector<Request*> order = running_;
  std::stable_sort(order.begin(), order.end(),
                   [](const Request* a, const Request* b) { return a->num_pending_tokens() < b->num_pending_tokens(); });
  // Running prompts longer than every waiting one get what admission leaves.
  int64_t shortest_waiting = INT64_MAX;
  for (const Request* w : waiting_) shortest_waiting = std::min(shortest_waiting, w->num_pending_tokens());
  const auto run = [&](bool longer_than_waiting) {
    for (Request* r : order) {
      if (*budget <= 0) return;
      // A preemption earlier in the step may have sent it back to waiting.
      if (r->state != RequestState::kRunning || (r->num_pending_tokens() > shortest_waiting) != longer_than_waiting) {
        continue;
      }
      const int64_t before = out->num_tokens;
      if (!ScheduleRunning(r, *budget, out)) continue;
      *budget -= out->num_tokens - before;
    }
  };
  run(false);
  if (out->preempted.empty()) ScheduleWaiting(budget, out);
  run(true);
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_batch_tokens;
  prefill_left_ = INT64_MAX;
  if (config_.max_prefill_tokens_beside_decodes > 0 &&
      std::any_of(running_.begin(), running_.end(), [](const Request* r) { return r->num_output_tokens() > 0; })) {
    prefill_left_ = config_.max_prefill_tokens_beside_decodes;
  }
  if (config_.shortest_prefill_first) {
    ScheduleShortestFirst(&budget, &out);
  } else {
    ScheduleOldestFirst(&budget, &out);
  }
  // Taken once every reservation of the step is made.
  for (ScheduledSeq& s : out.seqs) s.block_table = kv_->block_table(s.request->seq_id);
  return out;
}

void Scheduler::OnStepDone(const SchedulerOutput& output) {
  for (const ScheduledSeq& s : output.seqs) {
    Request* r = s.request;
    r->num_computed_tokens += s.num_new_tokens;
    TF_CHECK(r->num_computed_tokens <= r->num_tokens());
    kv_->PublishComputed(r->seq_id, r->tokens, r->num_computed_tokens, in_store_ ? &published_ : nullptr);
  }
}

void Scheduler::OnFillDone(SeqId seq, std::span<const BlockHash> filled, int64_t num_tokens_filled) {
  if (abandoned_loads_.erase(seq) != 0) {
    kv_->Free(seq);
    return;
  }
  const auto it = std::find_if(loading_.begin(), loading_.end(), [&](const Request* r) { return r->seq_id == seq; });
  TF_CHECK(it != loading_.end()) << "a fill finished for sequence " << seq << ", which is not loading";
  Request* r = *it;
  loading_.erase(it);
  kv_->PublishFilled(seq, filled);
  TF_CHECK(r->num_computed_tokens + num_tokens_filled < r->num_tokens());
  r->num_computed_tokens += num_tokens_filled;
  r->num_remote_filled_tokens += num_tokens_filled;
  r->state = RequestState::kRunning;
  running_.push_back(r);  // keeps its blocks: the partial last one has no hash to attach it by
}

void Scheduler::OnLoadDone(SeqId seq, std::span<const BlockHash> filled) {
  kv_->PublishFilled(seq, filled);
  // Released, the filled blocks stay cached; the request attaches them again.
  kv_->Free(seq);
  if (abandoned_loads_.erase(seq) != 0) return;
  const auto it = std::find_if(loading_.begin(), loading_.end(), [&](const Request* r) { return r->seq_id == seq; });
  TF_CHECK(it != loading_.end()) << "a load finished for sequence " << seq << ", which is not loading";
  Request* r = *it;
  loading_.erase(it);
  store_hit_tokens_ += static_cast<int64_t>(filled.size()) * kv_->block_size();
  r->num_computed_tokens = 0;
  r->state = RequestState::kWaiting;
  r->refilled = true;
  waiting_.push_front(r);
}

}  // namespace tf
