// The engine with its second tier, the KV store: a restart serves a prompt
// from disk with the same output as computing it; files that do not verify
// and stores of another KV format are never served; a removed directory, a
// full disk and a full write queue only cost misses; a request aborted
// while loading gives its blocks back; and concurrent requests that share
// a prefix nobody has computed yet compute it once.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include "engine/engine_test_util.h"
#include "kvstore/block_file.h"

namespace tf {
namespace {

namespace fs = std::filesystem;
using testing::CollectingSink;
using testing::Greedy;
using testing::Load;
using testing::Loaded;
using testing::WaitForIdle;

EngineConfig StoreConfig(const std::string& dir, DType kv_type = DType::kF32) {
  EngineConfig c;
  c.block_size = 4;
  c.num_kv_blocks = 64;
  c.ctx_size = 96;
  c.kv_type = kv_type;
  c.sched.max_batch_tokens = 64;
  c.sched.max_num_seqs = 16;
  c.kv_store_dir = dir;
  c.kv_store_gib = 0.01;
  return c;
}

std::string FreshDir(const std::string& name) {
  const std::string dir = testing::TempPath(name);
  fs::remove_all(dir);
  return dir;
}

std::vector<int32_t> Prompt(int64_t n_vocab, int n, int salt = 0) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((i * 13 + 5 + salt * 101) % n_vocab));
  return p;
}

struct RunResult {
  std::vector<int32_t> tokens;
  int64_t cached_prompt_tokens = 0;
  EngineStats stats;
};

// One greedy request on a fresh engine (which then shuts down, flushing
// its queued writes, as a graceful restart does).
RunResult RunOnce(Loaded& m, ThreadPool* pool, const EngineConfig& config, const std::vector<int32_t>& prompt) {
  auto engine = Engine::Create(m.model.get(), m.tokenizer.get(), pool, config, "fixture");
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  if (!engine.ok()) return {};
  auto sink = std::make_shared<CollectingSink>();
  EXPECT_TRUE((*engine)->Submit(Greedy(prompt, 6, sink)).ok());
  RunResult r;
  r.cached_prompt_tokens = sink->Wait().usage.cached_prompt_tokens;
  r.tokens = sink->tokens();
  WaitForIdle(**engine);
  (*engine)->Shutdown();
  r.stats = (*engine)->stats();  // after the queued writes were flushed
  return r;
}

class EngineStoreTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineStoreTest, ARestartServesThePromptFromTheStoreWithTheSameOutput) {
  Loaded m = Load(GetParam());
  ThreadPool pool(2);
  const std::string dir = FreshDir("engine-store-restart");
  const auto prompt = Prompt(m.model->config().n_vocab, 41);
  const RunResult cold = RunOnce(m, &pool, StoreConfig(dir), prompt);
  EXPECT_EQ(cold.cached_prompt_tokens, 0);
  EXPECT_EQ(cold.stats.prompt_tokens_computed, 41);
  // 46 tokens known at the end: 11 full blocks, all written through.
  EXPECT_EQ(cold.stats.store.blocks_written, 11u);
  const RunResult warm = RunOnce(m, &pool, StoreConfig(dir), prompt);
  EXPECT_EQ(warm.tokens, cold.tokens);
  EXPECT_EQ(warm.cached_prompt_tokens, 40);  // 10 full blocks; the last token is computed
  EXPECT_EQ(warm.stats.prompt_tokens_computed, 1);
  EXPECT_EQ(warm.stats.store.hit_tokens, 40);
  EXPECT_EQ(warm.stats.store.query_tokens, 40);
  EXPECT_EQ(warm.stats.store.load_seconds.count(), 1u);
  EXPECT_EQ(warm.stats.prefix_hit_tokens, 0);  // none of it was in RAM
  EXPECT_EQ(warm.stats.kv_blocks_used, 0);
  EXPECT_EQ(warm.stats.store.read_bytes, 10 * fs::file_size(fs::directory_iterator(dir)->path()));
}

TEST_P(EngineStoreTest, FilesThatDoNotVerifyAndOtherKvFormatsAreNeverServed) {
  Loaded m = Load(GetParam());
  ThreadPool pool(2);
  const std::string dir = FreshDir("engine-store-corrupt");
  const auto prompt = Prompt(m.model->config().n_vocab, 41, 1);
  const RunResult cold = RunOnce(m, &pool, StoreConfig(dir), prompt);
  // Flip a byte in the payload of the prompt's fourth block.
  KvManager keys(4, 8, "fixture|kv=f32|block=4");
  const auto hashes = keys.ChainHashes(prompt, 10);
  const std::string victim = dir + "/" + BlockFileName(hashes[3]);
  ASSERT_TRUE(fs::exists(victim));
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-7, std::ios::end);
    f.put('\x77');
  }
  const std::string corrupted = testing::ReadFile(victim);
  const RunResult warm = RunOnce(m, &pool, StoreConfig(dir), prompt);
  EXPECT_EQ(warm.tokens, cold.tokens);
  EXPECT_EQ(warm.stats.store.corrupt_deleted, 1u);
  EXPECT_EQ(warm.stats.store.hit_tokens, 12);  // the chain stops before the bad block
  EXPECT_EQ(warm.cached_prompt_tokens, 12);
  // Deleted, recomputed and written through again: the store heals.
  ASSERT_TRUE(fs::exists(victim));
  EXPECT_NE(testing::ReadFile(victim), corrupted);
  // bf16 KV in the same directory: other keys, never matched.
  const RunResult bf16 = RunOnce(m, &pool, StoreConfig(dir, DType::kBF16), prompt);
  EXPECT_EQ(bf16.stats.store.hit_tokens, 0);
  EXPECT_EQ(bf16.cached_prompt_tokens, 0);
  EXPECT_EQ(bf16.stats.store.corrupt_deleted, 0u);
}

INSTANTIATE_TEST_SUITE_P(Models, EngineStoreTest, ::testing::Values("tiny-llama-spm-q8_0", "tiny-deepseek3-q8_0"),
                         testing::FixtureModelTestName());

TEST(EngineStore, AbortWhileLoadingGivesTheBlocksBack) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  const std::string dir = FreshDir("engine-store-abort");
  const auto prompt = Prompt(m.model->config().n_vocab, 61, 2);
  RunOnce(m, &pool, StoreConfig(dir), prompt);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, StoreConfig(dir), "fixture");
  for (int i = 0; i < 5; ++i) {
    auto sink = std::make_shared<CollectingSink>();
    const uint64_t handle = *engine->Submit(Greedy(prompt, 6, sink));
    engine->Abort(handle);
    EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kAbort);
  }
  const EngineStats stats = WaitForIdle(*engine);
  EXPECT_EQ(stats.kv_blocks_used, 0);
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
  // And the engine still serves from the store afterwards.
  auto sink = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy(prompt, 6, sink)).ok());
  EXPECT_EQ(sink->Wait().usage.cached_prompt_tokens, 60);
}

TEST(EngineStore, ARemovedDirectoryOnlyCostsMisses) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  const std::string dir = FreshDir("engine-store-removed");
  const int64_t n_vocab = m.model->config().n_vocab;
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, StoreConfig(dir), "fixture");
  auto first = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->Submit(Greedy(Prompt(n_vocab, 30, 3), 4, first)).ok());
  first->Wait();
  WaitForIdle(*engine);
  // The I/O thread may still be writing into it: remove until it is gone.
  for (int i = 0; i < 100 && fs::exists(dir); ++i) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  ASSERT_FALSE(fs::exists(dir));
  for (int i = 0; i < 3; ++i) {
    auto sink = std::make_shared<CollectingSink>();
    ASSERT_TRUE(engine->Submit(Greedy(Prompt(n_vocab, 30, 4 + i), 4, sink)).ok());
    EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kLength);
  }
  const EngineStats stats = WaitForIdle(*engine);
  EXPECT_TRUE(engine->alive());
  EXPECT_EQ(stats.store.write_errors, 1u) << "writing stops at the first error";
  EXPECT_GT(stats.store.skipped_writes, 0u);
}

TEST(EngineStore, AFullWriteQueueSkipsBlocksInsteadOfWaiting) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  EngineConfig config = StoreConfig(FreshDir("engine-store-queue"));
  config.kv_store_max_queued_writes = 0;
  const RunResult r = RunOnce(m, &pool, config, Prompt(m.model->config().n_vocab, 41, 5));
  EXPECT_EQ(r.stats.store.skipped_writes, 11u);
  EXPECT_EQ(r.stats.store.blocks_written, 0u);
}

// A real full disk: a 64 KiB tmpfs in this test's own mount namespace.
TEST(EngineStore, AFullDiskStopsWritingAndServingGoesOn) {
  if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "cannot create a mount namespace (not root?)";
  ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  const std::string dir = FreshDir("engine-store-full");
  fs::create_directories(dir);
  ASSERT_EQ(::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k,mode=0700"), 0);
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  const auto prompt = Prompt(m.model->config().n_vocab, 81, 6);
  auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, StoreConfig(dir), "fixture");
  std::vector<int32_t> first;
  for (int i = 0; i < 3; ++i) {
    auto sink = std::make_shared<CollectingSink>();
    ASSERT_TRUE(engine->Submit(Greedy(prompt, 8, sink)).ok());
    EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kLength);
    if (i == 0) first = sink->tokens();
    EXPECT_EQ(sink->tokens(), first);
  }
  const EngineStats stats = WaitForIdle(*engine);
  EXPECT_TRUE(engine->alive());
  EXPECT_EQ(stats.store.write_errors, 1u);
  EXPECT_GT(stats.store.blocks_written, 0u);
  engine->Shutdown();
  ::umount(dir.c_str());
}

// Four requests with one 33-token prefix, submitted together: one computes
// the prefix, the others wait for its blocks and compute only their own
// last tokens; with the wait turned off all four compute it.
TEST(EngineStore, ConcurrentRequestsComputeASharedPrefixOnce) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  const int64_t n_vocab = m.model->config().n_vocab;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    prompts.push_back(Prompt(n_vocab, 33, 7));
    prompts.back().push_back(static_cast<int32_t>(100 + i));
  }
  std::vector<std::vector<int32_t>> outputs[2];
  int64_t computed[2] = {0, 0};
  for (int wait = 0; wait < 2; ++wait) {
    EngineConfig config = StoreConfig("");
    config.sched.wait_for_shared_prefix = wait == 1;
    auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, config, "fixture");
    std::vector<std::shared_ptr<CollectingSink>> sinks;
    engine->HoldInbox(true);  // all four arrive in one step, however slowly this thread runs
    for (const auto& p : prompts) {
      sinks.push_back(std::make_shared<CollectingSink>());
      ASSERT_TRUE(engine->Submit(Greedy(p, 4, sinks.back())).ok());
    }
    engine->HoldInbox(false);
    for (auto& s : sinks) {
      s->Wait();
      outputs[wait].push_back(s->tokens());
    }
    computed[wait] = WaitForIdle(*engine).prompt_tokens_computed;
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(computed[1], 34 + 3 * 2);  // 8 shared blocks, then each its own 2 tokens
  EXPECT_GT(computed[0], computed[1]);
}

}  // namespace
}  // namespace tf
