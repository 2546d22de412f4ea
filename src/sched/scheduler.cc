#include "sched/scheduler.h"

#include <algorithm>

#include "base/check.h"

namespace tf {

Scheduler::Scheduler(const SchedulerConfig& config, KvManager* kv) : config_(config), kv_(kv) {
  TF_CHECK(config.max_batch_tokens > 0 && config.max_num_seqs > 0);
}

bool Scheduler::Add(Request* request) {
  if (static_cast<int64_t>(waiting_.size()) >= config_.max_queue) return false;
  request->state = RequestState::kWaiting;
  waiting_.push_back(request);
  return true;
}

void Scheduler::Remove(Request* request) {
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

bool Scheduler::ScheduleRunning(Request* r, int64_t budget, SchedulerOutput* out) {
  const int64_t n = std::min(r->num_pending_tokens(), budget);
  if (n <= 0) return true;
  while (!kv_->Reserve(r->seq_id, r->num_computed_tokens + n)) {
    Request* victim = running_.back();
    Preempt(victim, out);
    if (victim == r) return false;
  }
  out->seqs.push_back({r, n, {}});
  out->num_tokens += n;
  return true;
}

void Scheduler::ScheduleWaiting(int64_t* budget, SchedulerOutput* out) {
  while (!waiting_.empty() && *budget > 0 && static_cast<int>(running_.size()) < config_.max_num_seqs) {
    Request* r = waiting_.front();
    const int64_t cached = kv_->AttachCachedPrefix(r->seq_id, r->tokens);
    r->num_computed_tokens = cached;
    if (r->num_preemptions == 0) r->num_cached_prompt_tokens = std::min(cached, r->num_prompt_tokens);
    const int64_t n = std::min(r->num_pending_tokens(), *budget);
    // Admission leaves a reserve so the running requests can keep growing.
    const int64_t needed = kv_->BlocksNeeded(r->seq_id, r->num_computed_tokens + n) + config_.watermark_blocks;
    if (needed > kv_->pool().num_free_blocks() || !kv_->Reserve(r->seq_id, r->num_computed_tokens + n)) {
      kv_->Free(r->seq_id);
      r->num_computed_tokens = 0;
      return;
    }
    waiting_.pop_front();
    r->state = RequestState::kRunning;
    running_.push_back(r);
    out->seqs.push_back({r, n, {}});
    out->num_tokens += n;
    *budget -= n;
  }
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int64_t budget = config_.max_batch_tokens;
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Request* r = running_[i];
    const int64_t before = out.num_tokens;
    if (!ScheduleRunning(r, budget, &out)) break;
    budget -= out.num_tokens - before;
  }
  // Admitting new work in a step that had to preempt would only thrash.
  if (out.preempted.empty()) ScheduleWaiting(&budget, &out);
  // Taken once every reservation of the step is made.
  for (ScheduledSeq& s : out.seqs) s.block_table = kv_->block_table(s.request->seq_id);
  return out;
}

void Scheduler::OnStepDone(const SchedulerOutput& output) {
  for (const ScheduledSeq& s : output.seqs) {
    Request* r = s.request;
    r->num_computed_tokens += s.num_new_tokens;
    TF_CHECK(r->num_computed_tokens <= r->num_tokens());
    kv_->PublishComputed(r->seq_id, r->tokens, r->num_computed_tokens);
  }
}

}  // namespace tf
