// One rule for every step: running requests (oldest first) get their
// pending tokens (a decode's next token, or the next chunk of a prompt)
// within a token budget, and waiting requests fill what is left, so a long
// prompt is spread over steps and never stalls the decodes behind it. When
// the KV pool runs dry the newest running request is preempted: its blocks
// are freed and it is recomputed later from its tokens so far.
//
// Two things keep prompts from being computed twice. A waiting request
// whose next uncached block some running or loading request is about to
// produce waits for it (one computes a shared prefix, the others attach
// it). And with a second tier (the KV store), a request whose prefix goes
// on beyond the RAM pool reserves blocks for the stored run and is handed
// to the caller to fill (SchedulerOutput::loads); it is `kLoading` until
// OnLoadDone, while every other request keeps running.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <unordered_set>
#include <utility>
#include <vector>

#include "kv/kv_manager.h"
#include "sched/request.h"

namespace tf {

struct SchedulerConfig {
  int64_t max_batch_tokens = 512;  // tokens per forward pass
  int max_num_seqs = 64;           // running (and loading) requests at once
  int64_t max_queue = 1024;        // waiting requests before Add refuses
  // Free blocks admission keeps in reserve so running decodes can grow.
  int64_t watermark_blocks = 1;
  // A request waits for a prefix another request is computing.
  bool wait_for_shared_prefix = true;
  // Shortest remaining prompt first instead of oldest first: a short prompt
  // that arrives while a long one is being chunked goes ahead of it (waiting
  // prompts included), so its first token does not wait for the long one's
  // whole prefill. Decodes (one pending token) always come first. This is
  // what a prefill-only worker wants; an aggregated one keeps arrival order.
  bool shortest_prefill_first = false;
  // Prompt tokens a step computes while any request is decoding (0: no cap
  // beyond max_batch_tokens). A decode step shares its pass with at most this
  // many prompt tokens, so a prompt computed beside running decodes stretches
  // over several short steps instead of stalling their next token: what a
  // decode worker wants for the short prompts it prefills itself.
  int64_t max_prefill_tokens_beside_decodes = 0;
};

struct ScheduledSeq {
  Request* request = nullptr;
  int64_t num_new_tokens = 0;  // tokens [num_computed_tokens, +num_new_tokens)
  // The KV blocks holding the request's positions 0..num_computed_tokens +
  // num_new_tokens, in order; valid until the next Schedule/Remove.
  std::span<const int32_t> block_table;
};

// Blocks to fill from the second tier, in chain order; the request is
// kLoading until OnLoadDone(seq, hashes of the blocks filled).
struct StoreLoad {
  SeqId seq = 0;
  std::vector<int32_t> blocks;
  std::vector<BlockHash> hashes;
};

// Blocks a prefill worker fills (disaggregation): prompt blocks from
// `first_block` on, for positions [first_block * block_size, num_tokens);
// the request is kLoading until OnFillDone.
struct RemoteFill {
  Request* request = nullptr;
  int64_t first_block = 0;
  int64_t num_tokens = 0;
  std::vector<int32_t> blocks;
  std::vector<BlockHash> hashes;  // expected hashes of the full blocks among them
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> seqs;
  std::vector<Request*> preempted;
  std::vector<StoreLoad> loads;
  std::vector<RemoteFill> fills;
  int64_t num_tokens = 0;
  bool empty() const { return seqs.empty(); }
};

// Whether the second tier holds a block (no I/O beyond a name lookup).
using TierLookup = std::function<bool(const BlockHash&)>;

class Scheduler {
 public:
  // `in_store`, when given, is the second tier: blocks it holds are loaded,
  // and every block that becomes the cached copy of its prefix is reported
  // by TakePublished (to be written there).
  Scheduler(const SchedulerConfig& config, KvManager* kv, TierLookup in_store = {});

  // Queues a request; false when the waiting queue is full.
  bool Add(Request* request);
  // Removes a request wherever it is and releases its blocks (a loading
  // request's once its load is done).
  void Remove(Request* request);
  // One step: what every scheduled request computes and where its KV goes.
  SchedulerOutput Schedule();
  // Records that the scheduled tokens were computed.
  void OnStepDone(const SchedulerOutput& output);
  // A load finished: `filled` are the hashes of its first blocks that now
  // hold their content (all of them, or fewer when a read failed). The
  // request goes back to the front of the queue and attaches them.
  void OnLoadDone(SeqId seq, std::span<const BlockHash> filled);
  // A remote fill finished: `filled` are the hashes of its first full
  // blocks that hold their content, and `num_tokens_filled` the positions
  // (from the fill's first block) that do. The request runs on from there;
  // what was not filled it computes itself.
  void OnFillDone(SeqId seq, std::span<const BlockHash> filled, int64_t num_tokens_filled);
  // Blocks published since the last call (only with a second tier).
  std::vector<PublishedBlock> TakePublished() { return std::exchange(published_, {}); }

  size_t num_running() const { return running_.size(); }
  size_t num_waiting() const { return waiting_.size(); }
  size_t num_loading() const { return loading_.size(); }
  int64_t num_preemptions() const { return num_preemptions_; }
  // Prompt tokens looked up in the second tier, and found there.
  int64_t store_query_tokens() const { return store_query_tokens_; }
  int64_t store_hit_tokens() const { return store_hit_tokens_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  enum class Admission { kAdmitted, kLoading, kDeferred, kNoRoom };
  enum class LoadStart { kNothingStored, kNoRoom, kStarted };
  // Gives `r` up to `budget` tokens, preempting newer requests for blocks.
  // Returns false when `r` itself had to be preempted.
  // Tokens of r the step can take from `budget`: its pending tokens, a
  // prompt's also bounded by what the step may still compute of prompts.
  int64_t StepTokens(const Request& r, int64_t budget) const;
  // Puts n tokens of r into the step (before they are computed).
  void AddToStep(Request* r, int64_t n, SchedulerOutput* out);
  bool ScheduleRunning(Request* r, int64_t budget, SchedulerOutput* out);
  void ScheduleWaiting(int64_t* budget, SchedulerOutput* out);
  void ScheduleOldestFirst(int64_t* budget, SchedulerOutput* out);
  void ScheduleShortestFirst(int64_t* budget, SchedulerOutput* out);
  // The request to preempt so that `r` can grow: the newest running one not
  // yet scheduled in this step (possibly `r` itself).
  Request* PickVictim(const Request* r, const SchedulerOutput& out) const;
  Admission TryAdmit(Request* r, int64_t* budget, SchedulerOutput* out);
  // Starts a load of the stored blocks after the `cached_blocks` attached.
  LoadStart TryStartLoad(Request* r, int64_t cached_blocks, SchedulerOutput* out);
  // Reserves the blocks a prefill worker fills after the `cached_blocks`.
  LoadStart TryStartRemoteFill(Request* r, int64_t cached_blocks, SchedulerOutput* out);
  // Whether a running or loading request is producing r's block `b`.
  bool BeingProduced(const Request* r, int64_t b) const;
  int64_t ShareableBlocks(const Request* r) const;
  void Preempt(Request* r, SchedulerOutput* out);

  SchedulerConfig config_;
  KvManager* kv_;
  int64_t prefill_left_ = 0;  // prompt tokens the step being scheduled may still take
  TierLookup in_store_;
  std::vector<Request*> running_;  // admission order, oldest first
  std::deque<Request*> waiting_;   // preempted requests go to the front
  std::vector<Request*> loading_;
  std::unordered_set<SeqId> abandoned_loads_;  // removed while loading
  std::vector<PublishedBlock> published_;
  int64_t num_preemptions_ = 0;
  int64_t store_query_tokens_ = 0;
  int64_t store_hit_tokens_ = 0;
};

}  // namespace tf
