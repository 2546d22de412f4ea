// KV transfer between a prefill engine and a decode engine in one process,
// over real loopback TCP (KvTransferServer, KvTransferClient): greedy output
// through the disaggregated path equals the aggregated engine's for every
// architecture, cached blocks are not sent, and every failure (no peer, a
// wrong key either way, garbage, a stalled peer, a prefill worker stopping
// mid-transfer) falls back to computing the prompt with KV usage back to
// baseline on both sides.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "cluster/kv_transfer_client.h"
#include "cluster/kv_transfer_server.h"
#include "engine/engine_test_util.h"

#include <fmt/format.h>

namespace tf {
namespace {

using testing::CollectingSink;
using testing::Greedy;
using testing::Load;
using testing::Loaded;
using testing::WaitForIdle;

EngineConfig Config(DType kv_type = DType::kF32) {
  EngineConfig c;
  c.block_size = 4;
  c.num_kv_blocks = 96;
  c.ctx_size = 128;
  c.kv_type = kv_type;
  c.sched.max_batch_tokens = 16;  // the prefill spans several steps: blocks stream as chunks complete
  c.sched.max_num_seqs = 8;
  c.warmup = false;
  return c;
}

std::vector<int32_t> Prompt(int64_t n_vocab, int n, int seed) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; ++i) p.push_back(static_cast<int32_t>((seed * 7919 + i * 104729) % (n_vocab - 3) + 3));
  return p;
}

std::vector<int32_t> Generate(Engine* engine, std::vector<int32_t> prompt, int max_tokens,
                              std::optional<RemotePrefill> remote = std::nullopt) {
  auto sink = std::make_shared<CollectingSink>();
  GenerationRequest g = Greedy(std::move(prompt), max_tokens, sink);
  g.remote_prefill = std::move(remote);
  EXPECT_TRUE(engine->Submit(std::move(g)).ok());
  EXPECT_NE(sink->Wait().finish_reason, FinishReason::kError);
  return sink->tokens();
}

// A prefill engine behind a KV transfer server, and a decode engine with a
// client, both over the same model file, each with its own model and thread
// pool as two workers have (a model's scratch and a pool serve one engine).
struct Pair {
  Pair(Loaded* m, ThreadPool* pool, DType kv_type, const ClusterKey* server_key, const ClusterKey* client_key,
       const std::string& name = "tiny-llama-spm-q8_0", const std::string& store_dir = "")
      : prefill_model(Load(name)) {
    EngineConfig pc = Config(kv_type);
    pc.kv_store_dir = store_dir;
    pc.kv_store_gib = 0.05;
    prefill = *Engine::Create(prefill_model.model.get(), prefill_model.tokenizer.get(), &prefill_pool, pc, "fixture");
    KvTransferServerOptions so;
    so.key = server_key;
    const KvStorageInfo info = prefill->kv_storage_info();
    Engine* e = prefill.get();
    so.targets.push_back({prefill->kv_fingerprint(), info.kv_type, info.block_size, info.block_bytes,
                          [e](GenerationRequest r) { return e->Submit(std::move(r)); },
                          [e](uint64_t h) { e->Abort(h); }, nullptr});
    if (BlockStore* store = prefill->shared_store()) {
      so.targets.back().persist = [store](const BlockHash& parent, std::span<const int32_t> tokens,
                                          std::span<const uint8_t> payload, const BlockHash& hash) {
        return store->InIndex(hash) ? Status::Ok() : store->Write(parent, tokens, payload);
      };
    }
    server = std::move(*KvTransferServer::Start(std::move(so)));
    KvTransferClientOptions co;
    co.key = client_key;
    co.default_deadline_ms = 20000;
    client = std::make_unique<KvTransferClient>(co);
    EngineConfig dc = Config(kv_type);
    dc.kv_fills = client.get();
    dc.kv_store_dir = store_dir;
    dc.kv_store_gib = 0.05;
    decode = *Engine::Create(m->model.get(), m->tokenizer.get(), pool, dc, "fixture");
  }
  ~Pair() {
    server->Stop();
    decode->Shutdown();
    prefill->Shutdown();
    client->Stop();
  }
  RemotePrefill Remote(int64_t deadline_ms = 0, bool via_store = false) const {
    return RemotePrefill{fmt::format("127.0.0.1:{}", server->port()), deadline_ms, via_store};
  }
  // KV usage on both sides, and the server's copies, back to nothing.
  void ExpectBaseline() {
    EXPECT_EQ(WaitForIdle(*decode).kv_blocks_used, 0);
    EXPECT_EQ(WaitForIdle(*prefill).kv_blocks_used, 0);
    for (int i = 0; i < 200 && (server->stats().active.load() != 0 || server->stats().bytes_held.load() != 0); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(server->stats().active.load(), 0);
    EXPECT_EQ(server->stats().bytes_held.load(), 0);
  }
  Loaded prefill_model;
  ThreadPool prefill_pool{1};
  std::unique_ptr<Engine> prefill;
  std::unique_ptr<KvTransferServer> server;
  std::unique_ptr<KvTransferClient> client;
  std::unique_ptr<Engine> decode;
};

struct Case {
  const char* model;
  DType kv_type;
};

class KvTransferModels : public ::testing::TestWithParam<Case> {};

TEST_P(KvTransferModels, DisaggregatedGreedyOutputEqualsAggregated) {
  Loaded m = Load(GetParam().model);
  ThreadPool pool(2);
  const int64_t n_vocab = m.model->config().n_vocab;
  const std::vector<int32_t> prompt = Prompt(n_vocab, 46, 1);  // 45 positions to move: 11 full blocks and a partial one
  std::vector<int32_t> aggregated;
  {
    auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, Config(GetParam().kv_type), "fixture");
    aggregated = Generate(engine.get(), prompt, 8);
  }
  Pair pair(&m, &pool, GetParam().kv_type, nullptr, nullptr, GetParam().model);
  EXPECT_EQ(Generate(pair.decode.get(), prompt, 8, pair.Remote()), aggregated);
  EngineStats d = WaitForIdle(*pair.decode);
  EXPECT_EQ(d.remote_fills, 1);
  EXPECT_EQ(d.remote_fill_failures, 0);
  EXPECT_EQ(d.remote_filled_tokens, 45);
  EXPECT_EQ(d.prompt_tokens_computed, 1);  // only the last prompt token: its logits
  EXPECT_EQ(d.remote_fill_bytes, 12 * pair.prefill->kv_storage_info().block_bytes);
  EXPECT_EQ(pair.server->stats().transfers_acked.load(), 1u);

  // The same prefix again with another ending: the decode worker holds the
  // first 11 blocks now and asks only for the rest.
  std::vector<int32_t> longer = prompt;
  longer.pop_back();
  for (int i = 0; i < 10; ++i) longer.push_back(static_cast<int32_t>(5 + i));
  std::vector<int32_t> aggregated_longer;
  {
    auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, Config(GetParam().kv_type), "fixture");
    aggregated_longer = Generate(engine.get(), longer, 6);
  }
  EXPECT_EQ(Generate(pair.decode.get(), longer, 6, pair.Remote()), aggregated_longer);
  d = WaitForIdle(*pair.decode);
  EXPECT_EQ(d.remote_fills, 2);
  // 55 tokens: 54 positions to fill, 11 blocks cached, so blocks 11..13 move.
  EXPECT_EQ(d.remote_fill_bytes, (12 + 3) * pair.prefill->kv_storage_info().block_bytes);
  EXPECT_EQ(d.remote_filled_tokens, 45 + 54 - 44);
  EXPECT_EQ(d.remote_fill_failures, 0);
  pair.ExpectBaseline();
}

INSTANTIATE_TEST_SUITE_P(Models, KvTransferModels,
                         ::testing::Values(Case{"tiny-llama-spm-q8_0", DType::kF32},
                                           Case{"tiny-llama-spm-f16", DType::kBF16},
                                           Case{"tiny-qwen2-gpt2-bf16", DType::kF32},
                                           Case{"tiny-deepseek3-q8_0", DType::kF32},
                                           Case{"tiny-deepseek3-grouped-f16", DType::kBF16}),
                         [](const auto& info) {
                           std::string name = std::string(info.param.model) + "_" + std::string(DTypeName(info.param.kv_type));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// Two workers sharing a KV store directory: full blocks go through it (the
// prefill worker persists each one before its hash-only frame), only the
// partial last block travels as bytes, and the output is the same.
TEST(KvTransferStore, ASharedStoreCarriesTheFullBlocksAsHashes) {
  Loaded m = Load("tiny-llama-spm-q8_0");
  ThreadPool pool(2);
  const std::string dir = ::testing::TempDir() + "/kv-transfer-store-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  const std::vector<int32_t> prompt = Prompt(m.model->config().n_vocab, 46, 9);
  std::vector<int32_t> aggregated;
  {
    auto engine = *Engine::Create(m.model.get(), m.tokenizer.get(), &pool, Config(), "fixture");
    aggregated = Generate(engine.get(), prompt, 8);
  }
  {
    Pair pair(&m, &pool, DType::kF32, nullptr, nullptr, "tiny-llama-spm-q8_0", dir);
    EXPECT_EQ(Generate(pair.decode.get(), prompt, 8, pair.Remote(0, /*via_store=*/true)), aggregated);
    const EngineStats d = WaitForIdle(*pair.decode);
    EXPECT_EQ(d.remote_fill_failures, 0);
    EXPECT_EQ(d.remote_filled_tokens, 45);
    EXPECT_EQ(d.prompt_tokens_computed, 1);
    EXPECT_EQ(pair.server->stats().blocks_via_store.load(), 11u);
    EXPECT_EQ(pair.client->stats().blocks_via_store.load(), 11u);
    EXPECT_EQ(d.remote_fill_bytes, pair.prefill->kv_storage_info().block_bytes);  // the partial block
    pair.ExpectBaseline();
  }
  {
    // Asked for the store path by a decode worker without a store: bytes.
    Pair pair(&m, &pool, DType::kF32, nullptr, nullptr, "tiny-llama-spm-q8_0", "");
    EXPECT_EQ(Generate(pair.decode.get(), prompt, 8, pair.Remote(0, /*via_store=*/true)), aggregated);
    EXPECT_EQ(pair.server->stats().blocks_via_store.load(), 0u);
    EXPECT_EQ(WaitForIdle(*pair.decode).remote_fill_bytes, 12 * pair.prefill->kv_storage_info().block_bytes);
  }
  std::filesystem::remove_all(dir);
}

// A TCP peer that accepts connections and either writes `garbage` or says
// nothing at all.
class FakePeer {
 public:
  explicit FakePeer(std::string garbage) : garbage_(std::move(garbage)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      if (!garbage_.empty()) {
        EXPECT_GT(::write(c, garbage_.data(), garbage_.size()), 0);
      }
      while (!stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ::close(c);
    });
  }
  ~FakePeer() {
    stop_.store(true);
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }

 private:
  std::string garbage_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class KvTransferFailures : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = Load("tiny-llama-spm-q8_0");
    prompt_ = Prompt(m_.model->config().n_vocab, 46, 3);
    auto engine = *Engine::Create(m_.model.get(), m_.tokenizer.get(), &pool_, Config(), "fixture");
    aggregated_ = Generate(engine.get(), prompt_, 6);
  }
  // One request through `pair` with `remote`: the output is the aggregated
  // one, the fill failed, and both sides are back at baseline.
  void ExpectFallback(Pair* pair, const RemotePrefill& remote) {
    const int64_t failures = WaitForIdle(*pair->decode).remote_fill_failures;
    EXPECT_EQ(Generate(pair->decode.get(), prompt_, 6, remote), aggregated_);
    const EngineStats d = WaitForIdle(*pair->decode);
    EXPECT_EQ(d.remote_fill_failures, failures + 1);
    pair->ExpectBaseline();
  }
  ThreadPool pool_{2};
  Loaded m_;
  std::vector<int32_t> prompt_;
  std::vector<int32_t> aggregated_;
};

TEST_F(KvTransferFailures, NoPeerGarbageAndSilenceFallBack) {
  Pair pair(&m_, &pool_, DType::kF32, nullptr, nullptr);
  ExpectFallback(&pair, RemotePrefill{"127.0.0.1:1", 0});  // connection refused
  {
    FakePeer garbage(std::string(64, '\x7f'));
    ExpectFallback(&pair, RemotePrefill{garbage.address(), 0});
  }
  {
    // A valid header announcing a 4 GiB frame: refused before any allocation.
    std::string huge = "TFKV";
    huge += std::string("\x01\x01\x00\x00\xff\xff\xff\xff", 8);
    FakePeer liar(huge);
    ExpectFallback(&pair, RemotePrefill{liar.address(), 0});
  }
  {
    FakePeer silent("");
    const auto start = std::chrono::steady_clock::now();
    ExpectFallback(&pair, RemotePrefill{silent.address(), 300});
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  }
}

TEST_F(KvTransferFailures, WrongKeysEitherWayAreRefused) {
  const ClusterKey a = *ClusterKey::FromSecret("cluster-key-a-0123456789");
  const ClusterKey b = *ClusterKey::FromSecret("cluster-key-b-0123456789");
  {
    Pair pair(&m_, &pool_, DType::kF32, &a, &b);  // the server refuses the client's mac
    ExpectFallback(&pair, pair.Remote());
    EXPECT_EQ(pair.server->stats().refused.load(), 1u);
    EXPECT_EQ(pair.server->stats().transfers_started.load(), 0u);
  }
  {
    Pair pair(&m_, &pool_, DType::kF32, nullptr, &a);  // an open server cannot prove the key
    ExpectFallback(&pair, pair.Remote());
  }
  {
    Pair pair(&m_, &pool_, DType::kF32, &a, &a);
    EXPECT_EQ(Generate(pair.decode.get(), prompt_, 6, pair.Remote()), aggregated_);
    EXPECT_EQ(WaitForIdle(*pair.decode).remote_fill_failures, 0);
    EXPECT_EQ(pair.server->stats().transfers_acked.load(), 1u);
  }
}

TEST_F(KvTransferFailures, APrefillWorkerStoppingMidTransferAndAMismatchedFormat) {
  {
    Pair pair(&m_, &pool_, DType::kF32, nullptr, nullptr);
    pair.prefill->HoldInbox(true);  // the prefill never starts: the transfer is in the middle
    auto sink = std::make_shared<CollectingSink>();
    GenerationRequest g = Greedy(prompt_, 6, sink);
    g.remote_prefill = pair.Remote();
    ASSERT_TRUE(pair.decode->Submit(std::move(g)).ok());
    for (int i = 0; i < 400 && pair.server->stats().active.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(pair.server->stats().active.load(), 1);
    pair.server->Stop();
    EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kLength);
    EXPECT_EQ(sink->tokens(), aggregated_);
    EXPECT_EQ(WaitForIdle(*pair.decode).remote_fill_failures, 1);
    pair.prefill->HoldInbox(false);
    pair.ExpectBaseline();
  }
  {
    // A bf16 decode worker asking an f32 prefill worker: refused by format.
    Pair f32(&m_, &pool_, DType::kF32, nullptr, nullptr);
    Pair bf16(&m_, &pool_, DType::kBF16, nullptr, nullptr);
    auto sink = std::make_shared<CollectingSink>();
    GenerationRequest g = Greedy(prompt_, 6, sink);
    g.remote_prefill = f32.Remote();
    ASSERT_TRUE(bf16.decode->Submit(std::move(g)).ok());
    EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kLength);
    EXPECT_EQ(WaitForIdle(*bf16.decode).remote_fill_failures, 1);
    EXPECT_EQ(f32.server->stats().refused.load(), 1u);
    bf16.ExpectBaseline();
    f32.ExpectBaseline();
  }
}

TEST_F(KvTransferFailures, AnAbortWhileTheTransferWaitsFreesTheBlocks) {
  Pair pair(&m_, &pool_, DType::kF32, nullptr, nullptr);
  pair.prefill->HoldInbox(true);
  auto sink = std::make_shared<CollectingSink>();
  GenerationRequest g = Greedy(prompt_, 6, sink);
  g.remote_prefill = pair.Remote();
  const uint64_t handle = *pair.decode->Submit(std::move(g));
  for (int i = 0; i < 400 && pair.server->stats().active.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(pair.server->stats().active.load(), 1);
  pair.decode->Abort(handle);
  EXPECT_EQ(sink->Wait().finish_reason, FinishReason::kAbort);
  pair.prefill->HoldInbox(false);
  pair.ExpectBaseline();
}

}  // namespace
}  // namespace tf
