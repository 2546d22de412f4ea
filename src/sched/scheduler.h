// One rule for every step: running requests (oldest first) get their
// pending tokens (a decode's next token, or the next chunk of a prompt)
// within a token budget, and waiting requests fill what is left, so a long
// prompt is spread over steps and never stalls the decodes behind it. When
// the KV pool runs dry the newest running request is preempted: its blocks
// are freed and it is recomputed later from its tokens so far.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "kv/kv_manager.h"
#include "sched/request.h"

namespace tf {

struct SchedulerConfig {
  int64_t max_batch_tokens = 512;  // tokens per forward pass
  int max_num_seqs = 64;           // running requests at once
  int64_t max_queue = 1024;        // waiting requests before Add refuses
  // Free blocks admission keeps in reserve so running decodes can grow.
  int64_t watermark_blocks = 1;
};

struct ScheduledSeq {
  Request* request = nullptr;
  int64_t num_new_tokens = 0;  // tokens [num_computed_tokens, +num_new_tokens)
  // The KV blocks holding the request's positions 0..num_computed_tokens +
  // num_new_tokens, in order; valid until the next Schedule/Remove.
  std::span<const int32_t> block_table;
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> seqs;
  std::vector<Request*> preempted;
  int64_t num_tokens = 0;
  bool empty() const { return seqs.empty(); }
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, KvManager* kv);

  // Queues a request; false when the waiting queue is full.
  bool Add(Request* request);
  // Removes a request wherever it is and releases its blocks.
  void Remove(Request* request);
  // One step: what every scheduled request computes and where its KV goes.
  SchedulerOutput Schedule();
  // Records that the scheduled tokens were computed.
  void OnStepDone(const SchedulerOutput& output);

  size_t num_running() const { return running_.size(); }
  size_t num_waiting() const { return waiting_.size(); }
  int64_t num_preemptions() const { return num_preemptions_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  // Gives `r` up to `budget` tokens, preempting newer requests for blocks.
  // Returns false when `r` itself had to be preempted.
  bool ScheduleRunning(Request* r, int64_t budget, SchedulerOutput* out);
  void ScheduleWaiting(int64_t* budget, SchedulerOutput* out);
  void Preempt(Request* r, SchedulerOutput* out);

  SchedulerConfig config_;
  KvManager* kv_;
  std::vector<Request*> running_;  // admission order, oldest first
  std::deque<Request*> waiting_;   // preempted requests go to the front
  int64_t num_preemptions_ = 0;
};

}  // namespace tf
