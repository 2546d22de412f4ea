// The single scheduling rule: decodes first, prompt chunks fill the token
// budget, admission bounded by sequences and blocks, newest preempted first.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "sched/scheduler.h"

namespace tf {
namespace {

Request MakeRequest(SeqId id, int64_t n_prompt) {
  Request r;
  r.seq_id = id;
  r.tokens.assign(static_cast<size_t>(n_prompt), static_cast<int32_t>(id));
  r.num_prompt_tokens = n_prompt;
  return r;
}

// Runs a step as the engine would: computed, then one sampled token for
// every request whose tokens are all computed.
void CompleteStep(Scheduler* s, const SchedulerOutput& out) {
  s->OnStepDone(out);
  for (const ScheduledSeq& seq : out.seqs) {
    if (seq.request->num_pending_tokens() == 0) seq.request->tokens.push_back(0);
  }
}

TEST(Scheduler, ChunksLongPromptsAroundRunningDecodes) {
  KvManager kv(4, 64, "fp");
  SchedulerConfig config;
  config.max_batch_tokens = 8;
  Scheduler s(config, &kv);
  Request a = MakeRequest(1, 3), b = MakeRequest(2, 20);
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&b));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 3);  // a's whole prompt
  EXPECT_EQ(out.seqs[1].num_new_tokens, 5);  // b's first chunk fills the budget
  CompleteStep(&s, out);
  // a decodes one token per step while b's prompt keeps streaming in chunks.
  for (int step = 0; step < 3; ++step) {
    out = s.Schedule();
    ASSERT_EQ(out.seqs.size(), 2u);
    EXPECT_EQ(out.seqs[0].request, &a);
    EXPECT_EQ(out.seqs[0].num_new_tokens, 1);
    EXPECT_EQ(out.seqs[1].request, &b);
    EXPECT_EQ(out.num_tokens, std::min<int64_t>(8, 1 + b.num_pending_tokens()));
    CompleteStep(&s, out);
  }
  EXPECT_EQ(b.num_computed_tokens, 20);
  EXPECT_EQ(b.num_output_tokens(), 1);
}

TEST(Scheduler, RespectsMaxNumSeqsAndQueueBound) {
  KvManager kv(4, 64, "fp");
  SchedulerConfig config;
  config.max_num_seqs = 2;
  config.max_queue = 3;
  Scheduler s(config, &kv);
  std::vector<Request> reqs;
  for (int i = 0; i < 4; ++i) reqs.push_back(MakeRequest(i + 1, 2));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.Add(&reqs[i]));
  EXPECT_FALSE(s.Add(&reqs[3]));
  const SchedulerOutput out = s.Schedule();
  EXPECT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(s.num_running(), 2u);
  EXPECT_EQ(s.num_waiting(), 1u);
}

TEST(Scheduler, PreemptsTheNewestRequestWhenBlocksRunOutAndRecomputesIt) {
  KvManager kv(2, 5, "fp", false);
  SchedulerConfig config;
  config.watermark_blocks = 0;
  Scheduler s(config, &kv);
  Request a = MakeRequest(1, 4), b = MakeRequest(2, 4);  // 2 blocks each
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&b));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  CompleteStep(&s, out);  // both now need a third block; only one is left
  out = s.Schedule();      // a, the oldest, takes it; b, the newest, is preempted
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], &b);
  EXPECT_EQ(b.num_computed_tokens, 0);
  EXPECT_EQ(b.num_tokens(), 5);  // its output so far is kept
  EXPECT_EQ(s.num_preemptions(), 1);
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].request, &a);
  CompleteStep(&s, out);
  s.Remove(&a);
  out = s.Schedule();  // b comes back and recomputes prompt + output so far
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].request, &b);
  EXPECT_EQ(out.seqs[0].num_new_tokens, b.num_tokens());
}

TEST(Scheduler, AdmissionStopsBeforeThePoolIsOvercommitted) {
  KvManager kv(4, 4, "fp", false);
  SchedulerConfig config;
  config.watermark_blocks = 1;
  Scheduler s(config, &kv);
  Request a = MakeRequest(1, 8), b = MakeRequest(2, 8);  // 2 blocks each; 4 total, 1 kept in reserve
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&b));
  const SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(s.num_waiting(), 1u);
  EXPECT_EQ(kv.pool().num_used_blocks(), 2);
}

// The blocks a step writes travel in its output: each scheduled request's
// table covers its positions so far plus the new ones, and a table only
// grows at its end while the request runs.
TEST(Scheduler, OutputCarriesEveryScheduledRequestsBlockTable) {
  KvManager kv(4, 16, "fp", false);
  Scheduler s(SchedulerConfig{}, &kv);
  Request a = MakeRequest(1, 8), b = MakeRequest(2, 3);
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&b));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  const std::vector<int32_t> a_first(out.seqs[0].block_table.begin(), out.seqs[0].block_table.end());
  const std::vector<int32_t> b_first(out.seqs[1].block_table.begin(), out.seqs[1].block_table.end());
  // A fresh pool hands out block 0 first.
  EXPECT_EQ(a_first, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(b_first, (std::vector<int32_t>{2}));
  CompleteStep(&s, out);
  out = s.Schedule();  // a's 9th token needs a third block; b's 4th still fits its first
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(std::vector<int32_t>(out.seqs[0].block_table.begin(), out.seqs[0].block_table.end()),
            (std::vector<int32_t>{0, 1, 3}));
  EXPECT_EQ(std::vector<int32_t>(out.seqs[1].block_table.begin(), out.seqs[1].block_table.end()), b_first);
  for (const ScheduledSeq& seq : out.seqs) {
    const auto table = kv.block_table(seq.request->seq_id);
    EXPECT_EQ(seq.block_table.data(), table.data());
    EXPECT_GE(static_cast<int64_t>(seq.block_table.size()) * 4,
              seq.request->num_computed_tokens + seq.num_new_tokens);
  }
}

TEST(Scheduler, RemoveReleasesBlocksWhereverTheRequestIs) {
  KvManager kv(4, 8, "fp");
  Scheduler s(SchedulerConfig{}, &kv);
  Request a = MakeRequest(1, 10), b = MakeRequest(2, 3);
  ASSERT_TRUE(s.Add(&a));
  s.Schedule();
  ASSERT_TRUE(s.Add(&b));
  EXPECT_GT(kv.pool().num_used_blocks(), 0);
  s.Remove(&a);
  s.Remove(&b);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0);
  EXPECT_EQ(s.num_running() + s.num_waiting(), 0u);
}

// A second tier that holds the first three blocks of any prompt: the
// request loads them (kLoading, not computed), resumes from what was
// filled, and a request removed while loading frees its blocks only when
// its load reports back.
TEST(Scheduler, StoredBlocksAreLoadedWhileOthersRunAndRemovalWaitsForTheLoad) {
  KvManager kv(4, 64, "fp");
  std::vector<BlockHash> stored;
  Scheduler s(SchedulerConfig{}, &kv, [&](const BlockHash& h) {
    return std::find(stored.begin(), stored.end(), h) != stored.end();
  });
  Request a = MakeRequest(1, 17), other = MakeRequest(2, 5);
  const std::vector<BlockHash> hashes = kv.ChainHashes(a.tokens, 4);
  stored.assign(hashes.begin(), hashes.begin() + 3);
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&other));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.loads.size(), 1u);
  EXPECT_EQ(out.loads[0].seq, 1);
  EXPECT_EQ(out.loads[0].hashes, stored);
  EXPECT_EQ(out.loads[0].blocks.size(), 3u);
  EXPECT_EQ(a.state, RequestState::kLoading);
  ASSERT_EQ(out.seqs.size(), 1u);  // the other request runs meanwhile
  EXPECT_EQ(out.seqs[0].request, &other);
  CompleteStep(&s, out);
  // Two of the three verified: the request resumes after them.
  s.OnLoadDone(1, std::span<const BlockHash>(stored.data(), 2));
  out = s.Schedule();
  EXPECT_TRUE(out.loads.empty()) << "a request probes the store once";
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[1].request, &a);
  EXPECT_EQ(a.num_computed_tokens, 8);
  EXPECT_EQ(out.seqs[1].num_new_tokens, 9);
  EXPECT_EQ(a.num_cached_prompt_tokens, 8);
  EXPECT_EQ(s.store_hit_tokens(), 8);
  EXPECT_EQ(s.store_query_tokens(), 16 + 4);  // and the other request's one full block
  CompleteStep(&s, out);
  s.Remove(&a);
  s.Remove(&other);

  Request b = MakeRequest(3, 17);
  stored = kv.ChainHashes(b.tokens, 4);
  ASSERT_TRUE(s.Add(&b));
  out = s.Schedule();
  ASSERT_EQ(out.loads.size(), 1u);
  const int64_t used = kv.pool().num_used_blocks();
  EXPECT_EQ(used, 4);
  s.Remove(&b);
  EXPECT_EQ(kv.pool().num_used_blocks(), used) << "the store is still writing into them";
  s.OnLoadDone(3, stored);
  EXPECT_EQ(kv.pool().num_used_blocks(), 0);
  EXPECT_EQ(s.num_loading(), 0u);
}

// Requests with one shared prefix: the first computes it, the others wait
// until its blocks are published and then attach them.
TEST(Scheduler, AWaitingRequestWaitsForAPrefixBeingComputed) {
  KvManager kv(4, 64, "fp");
  SchedulerConfig config;
  config.max_batch_tokens = 64;
  Scheduler s(config, &kv);
  Request a = MakeRequest(1, 13), b = MakeRequest(2, 13), c = MakeRequest(3, 6);
  b.tokens = a.tokens;
  b.tokens.back() = 99;  // the same first 12 tokens as a
  ASSERT_TRUE(s.Add(&a));
  ASSERT_TRUE(s.Add(&b));
  ASSERT_TRUE(s.Add(&c));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 2u);  // a, and c going ahead of the waiting b
  EXPECT_EQ(out.seqs[0].request, &a);
  EXPECT_EQ(out.seqs[1].request, &c);
  EXPECT_EQ(b.state, RequestState::kWaiting);
  CompleteStep(&s, out);
  out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 3u);
  EXPECT_EQ(out.seqs[2].request, &b);
  EXPECT_EQ(b.num_computed_tokens, 12);
  EXPECT_EQ(out.seqs[2].num_new_tokens, 1);
}

// A prefill-only worker's order: a short prompt that arrives while a long one
// is being chunked takes the budget first; the long one gets what is left,
// and oldest-first (the default) keeps the long one's chunks going instead.
TEST(Scheduler, ShortestPrefillFirstLetsAShortPromptAheadOfALongOne) {
  for (const bool shortest : {true, false}) {
    KvManager kv(4, 64, "fp");
    SchedulerConfig config;
    config.max_batch_tokens = 16;
    config.shortest_prefill_first = shortest;
    Scheduler s(config, &kv);
    Request longer = MakeRequest(1, 100), shorter = MakeRequest(2, 10);
    ASSERT_TRUE(s.Add(&longer));
    SchedulerOutput out = s.Schedule();
    ASSERT_EQ(out.seqs.size(), 1u);
    EXPECT_EQ(out.seqs[0].num_new_tokens, 16);
    CompleteStep(&s, out);
    ASSERT_TRUE(s.Add(&shorter));
    out = s.Schedule();
    if (shortest) {
      ASSERT_EQ(out.seqs.size(), 2u);
      EXPECT_EQ(out.seqs[0].request, &shorter);
      EXPECT_EQ(out.seqs[0].num_new_tokens, 10);
      EXPECT_EQ(out.seqs[1].request, &longer);
      EXPECT_EQ(out.seqs[1].num_new_tokens, 6);
    } else {
      ASSERT_EQ(out.seqs.size(), 1u);
      EXPECT_EQ(out.seqs[0].request, &longer);
      EXPECT_EQ(out.seqs[0].num_new_tokens, 16);
    }
    CompleteStep(&s, out);
    // Either way both finish, and the short one's decode comes first.
    for (int step = 0; step < 20 && longer.num_output_tokens() == 0; ++step) {
      out = s.Schedule();
      ASSERT_FALSE(out.empty());
      if (shorter.num_pending_tokens() == 1) {
        EXPECT_EQ(out.seqs[0].request, &shorter);
      }
      CompleteStep(&s, out);
    }
    EXPECT_EQ(longer.num_computed_tokens, 100);
    EXPECT_GE(shorter.num_output_tokens(), 1);
  }
}

// Preemption in shortest-first order never takes a request already given
// tokens in the same step. Pool: 4 blocks of 4 tokens, 8 tokens per step.
TEST(Scheduler, ShortestPrefillFirstPreemptsOnlyUnscheduledRequests) {
  KvManager kv(4, 4, "fp");
  SchedulerConfig config;
  config.max_batch_tokens = 8;
  config.watermark_blocks = 0;
  config.shortest_prefill_first = true;
  Scheduler s(config, &kv);
  Request a = MakeRequest(1, 14), b = MakeRequest(2, 3);
  ASSERT_TRUE(s.Add(&a));
  SchedulerOutput out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 1u);  // a's first 8 tokens: 2 blocks
  CompleteStep(&s, out);
  ASSERT_TRUE(s.Add(&b));
  // b (3 tokens, 1 block) goes first; a's next 5 tokens would need 2 more
  // blocks with 1 free, and the only request a could take them from is b,
  // already scheduled: a itself steps back.
  out = s.Schedule();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].request, &b);
  EXPECT_EQ(out.seqs[0].num_new_tokens, 3);
  ASSERT_EQ(out.preempted.size(), 1u);
  EXPECT_EQ(out.preempted[0], &a);
  EXPECT_EQ(a.state, RequestState::kWaiting);
  CompleteStep(&s, out);
  for (int step = 0; step < 40 && a.num_output_tokens() == 0; ++step) {
    out = s.Schedule();
    for (const Request* p : out.preempted) {
      for (const ScheduledSeq& seq : out.seqs) EXPECT_NE(seq.request, p) << "step " << step;
    }
    CompleteStep(&s, out);
    if (b.num_output_tokens() >= 2) s.Remove(&b);  // b finishes, a gets the pool
  }
  EXPECT_EQ(a.num_computed_tokens, 14);
}

// With requests decoding, a step takes at most the cap of prompt tokens, on
// running and newly admitted prompts together; with none decoding, a prompt
// gets the whole budget.
TEST(Scheduler, CapsPromptTokensBesideDecodes) {
  for (const bool shortest : {false, true}) {
    KvManager kv(4, 64, "fp");
    SchedulerConfig config;
    config.max_batch_tokens = 32;
    config.max_prefill_tokens_beside_decodes = 4;
    config.shortest_prefill_first = shortest;
    Scheduler s(config, &kv);
    Request a = MakeRequest(1, 20), b = MakeRequest(2, 30), c = MakeRequest(3, 20);
    ASSERT_TRUE(s.Add(&a));
    SchedulerOutput out = s.Schedule();
    ASSERT_EQ(out.seqs.size(), 1u);
    EXPECT_EQ(out.seqs[0].num_new_tokens, 20);  // nothing decodes yet: no cap
    CompleteStep(&s, out);
    ASSERT_TRUE(s.Add(&b));
    ASSERT_TRUE(s.Add(&c));
    for (int step = 0; step < 3; ++step) {
      out = s.Schedule();
      int64_t prompt_tokens = 0;
      bool decoded = false;
      for (const ScheduledSeq& seq : out.seqs) {
        if (seq.request == &a) decoded = seq.num_new_tokens == 1;
        if (seq.request != &a) prompt_tokens += seq.num_new_tokens;
      }
      EXPECT_TRUE(decoded) << "step " << step;
      EXPECT_EQ(prompt_tokens, 4) << "step " << step;
      CompleteStep(&s, out);
    }
    // Alone, the rest of the prompts get the whole budget again.
    s.Remove(&a);
    out = s.Schedule();
    EXPECT_EQ(out.num_tokens, 32);
  }
}

}  // namespace
}  // namespace tf
