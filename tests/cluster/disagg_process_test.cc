// Prefill/decode disaggregation with real processes: etcd, `tokenfab router`,
// `tokenfab serve --role prefill` and `--role decode` workers. Greedy output
// through the disaggregated path equals an aggregated worker's for llama,
// qwen2 and both DeepSeek fixtures; the transfer connection is delayed,
// stalled and cut through a fault-injecting proxy, the prefill worker is
// killed mid-transfer and the decode worker after it, and every time the
// client gets the same text and KV usage returns to baseline on both sides.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "cluster/cluster_harness.h"
#include "cluster/cluster_key.h"
#include "cluster/stream_client.h"
#include "common/fault_proxy.h"

namespace tf {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing::Call;
using testing::Cluster;
using testing::FaultProxy;
using testing::ScrapeMetric;
using testing::StreamCompletion;
using testing::StreamResult;

Json TokenPrompt(int n, int salt) {
  Json ids = Json::array();
  for (int i = 0; i < n; ++i) ids.push_back(100 + (i * 37 + salt * 101) % 20000);
  return ids;
}

Json Completion(const Json& prompt, int max_tokens) {
  return {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}, {"ignore_eos", true}};
}

std::string Text(const testing::HttpReply& r) { return Json::parse(r.body)["choices"][0]["text"].get<std::string>(); }

// Waits until a worker holds no KV blocks and its transfer server no copies.
bool Baseline(uint16_t port, bool prefill_side) {
  for (int i = 0; i < 200; ++i) {
    const bool blocks = ScrapeMetric(port, "tokenfab_kv_blocks_used") == 0;
    const bool copies = !prefill_side || (ScrapeMetric(port, "tokenfab_kv_transfer_server_held_bytes") == 0 &&
                                          ScrapeMetric(port, "tokenfab_kv_transfer_server_active") == 0);
    if (blocks && copies) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

bool WaitHealthy(uint16_t port) {
  for (int i = 0; i < 600; ++i) {
    if (Call(port, "GET", "/health").status == 200) return true;
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

// etcd, one prefill worker (index 0), one decode worker (1) and a router
// that disaggregates prompts with more than 16 uncached tokens.
void StartPair(Cluster& c, const std::vector<std::string>& prefill_extra = {},
               const std::vector<std::string>& decode_extra = {}) {
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  std::vector<std::string> p = {"--role", "prefill", "--max-batch-tokens", "64"};
  p.insert(p.end(), prefill_extra.begin(), prefill_extra.end());
  c.AddWorker(p);
  std::vector<std::string> d = {"--role", "decode"};
  d.insert(d.end(), decode_extra.begin(), decode_extra.end());
  c.AddWorker(d);
  c.StartRouter({"--disagg-min-tokens", "16"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
}

class DisaggModels : public ::testing::TestWithParam<const char*> {};

TEST_P(DisaggModels, GreedyOutputThroughPrefillAndDecodeWorkersEqualsAggregated) {
  Cluster c(std::string("disagg-") + GetParam());
  c.set_model(std::string("models/") + GetParam() + ".gguf");
  StartPair(c);
  const Json body = Completion(TokenPrompt(150, 1), 12);
  const auto routed = Call(c.router_port(), "POST", "/v1/completions", body.dump());
  ASSERT_EQ(routed.status, 200) << routed.body << c.Logs();
  // The prefill worker is a whole engine: asked directly it computes
  // everything itself, the aggregated answer.
  const auto direct = Call(c.worker(0).port, "POST", "/v1/completions", body.dump());
  ASSERT_EQ(direct.status, 200) << direct.body;
  EXPECT_EQ(Text(routed), Text(direct));
  EXPECT_EQ(Json::parse(routed.body)["usage"]["completion_tokens"], 12);
  EXPECT_EQ(ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"disaggregated\"}"), 1) << c.Logs();
  const uint16_t decode = c.worker(1).port;
  EXPECT_EQ(ScrapeMetric(decode, "tokenfab_kv_transfer_filled_tokens_total"), 149);
  EXPECT_EQ(ScrapeMetric(decode, "tokenfab_kv_transfer_fallbacks_total"), 0);
  EXPECT_EQ(ScrapeMetric(decode, "tokenfab_engine_prompt_tokens_computed_total"), 1);  // the last prompt token
  EXPECT_EQ(ScrapeMetric(c.worker(0).port, "tokenfab_kv_transfer_server_acked_total"), 1);
  EXPECT_TRUE(Baseline(decode, false));
  EXPECT_TRUE(Baseline(c.worker(0).port, true));
}

INSTANTIATE_TEST_SUITE_P(Models, DisaggModels,
                         ::testing::Values("tiny-llama-spm-q8_0", "tiny-qwen2-gpt2-bf16", "tiny-deepseek3-q8_0",
                                           "tiny-deepseek3-grouped-f16"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

// The token ids of an internal generate reply's SSE events, in order; an
// error event fails the test.
std::string SseTokens(const std::string& body) {
  std::string tokens;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find('\n', pos);
    const Json j = Json::parse(body.substr(pos + 6, end - pos - 6), nullptr, false);
    if (j.is_object() && j.contains("token")) tokens += std::to_string(j["token"].get<int>()) + " ";
    EXPECT_FALSE(j.is_object() && j.contains("error")) << body;
    pos = end;
  }
  return tokens;
}

// A generate call straight to the decode worker's internal route, naming
// `peer` as its prefill worker (no cluster key: the route is open).
std::string InternalGenerate(uint16_t decode_port, const Json& prompt, int max_tokens, const std::string& peer,
                             int deadline_ms) {
  const Json body = {{"model", "tiny"},     {"prompt", prompt},          {"max_tokens", max_tokens},
                     {"ignore_eos", true},  {"sampling", {{"temperature", 0}}},
                     {"prefill", {{"peer", peer}, {"deadline_ms", deadline_ms}}}};
  const auto r = Call(decode_port, "POST", "/internal/v1/generate", body.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  return SseTokens(r.body);
}

// The aggregated tokens: the prefill worker computes everything itself when
// asked directly (SSE token ids of its internal route).
std::string AggregatedTokens(uint16_t port, const Json& prompt, int max_tokens) {
  const Json body = {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"ignore_eos", true},
                     {"sampling", {{"temperature", 0}}}};
  return SseTokens(Call(port, "POST", "/internal/v1/generate", body.dump()).body);
}

TEST(DisaggProcess, ADelayedStalledOrCutTransferFallsBackAndFreesEverything) {
  Cluster c("disagg-faults");
  const uint16_t transfer_port = testing::FreeLoopbackPort();
  StartPair(c, {"--kv-transfer-port", std::to_string(transfer_port)});
  const uint16_t prefill = c.worker(0).port;
  const uint16_t decode = c.worker(1).port;
  FaultProxy proxy("127.0.0.1", transfer_port);
  const std::string via_proxy = "127.0.0.1:" + std::to_string(proxy.port());
  int salt = 10;
  const auto expect_case = [&](FaultProxy::Mode mode, int deadline_ms, bool falls_back, const char* what) {
    SCOPED_TRACE(what);
    const Json prompt = TokenPrompt(400, ++salt);
    const double fallbacks = ScrapeMetric(decode, "tokenfab_kv_transfer_fallbacks_total");
    proxy.set_mode(mode);
    const std::string got = InternalGenerate(decode, prompt, 6, via_proxy, deadline_ms);
    proxy.set_mode(FaultProxy::Mode::kPass);
    EXPECT_EQ(got, AggregatedTokens(prefill, prompt, 6));
    EXPECT_EQ(ScrapeMetric(decode, "tokenfab_kv_transfer_fallbacks_total"), fallbacks + (falls_back ? 1 : 0)) << c.Logs();
    EXPECT_TRUE(Baseline(decode, false)) << c.Logs();
    EXPECT_TRUE(Baseline(prefill, true)) << c.Logs();
  };
  proxy.set_delay(5ms);
  expect_case(FaultProxy::Mode::kDelay, 20000, false, "delayed");
  expect_case(FaultProxy::Mode::kStall, 1500, true, "stalled past the deadline");
  proxy.set_reset_after_bytes(200000);
  expect_case(FaultProxy::Mode::kReset, 20000, true, "cut after 200 kB");
  expect_case(FaultProxy::Mode::kPass, 20000, false, "clean again");
}

TEST(DisaggProcess, KillingThePrefillWorkerMidTransferOrTheDecodeWorkerAfterItLosesNothing) {
  Cluster c("disagg-kills");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  // The prefill worker advertises a proxy that slows its transfers down, so
  // one is reliably caught in the middle.
  const uint16_t transfer_port = testing::FreeLoopbackPort();
  FaultProxy slow("127.0.0.1", transfer_port);
  slow.set_delay(20ms);
  slow.set_mode(FaultProxy::Mode::kDelay);
  c.AddWorker({"--role", "prefill", "--max-batch-tokens", "32", "--kv-transfer-port", std::to_string(transfer_port),
               "--kv-transfer-advertise", "127.0.0.1:" + std::to_string(slow.port())});
  c.AddWorker({"--role", "decode"});
  c.AddWorker({"--role", "decode"});
  c.StartRouter({"--disagg-min-tokens", "16"});
  ASSERT_TRUE(c.WaitRoutedWorkers(3)) << c.Logs();
  const Json body = Completion(TokenPrompt(900, 3), 24);
  const auto reference = Call(c.worker(0).port, "POST", "/v1/completions", body.dump());
  ASSERT_EQ(reference.status, 200);

  // The prefill worker dies while it streams the prompt's blocks: the
  // decode worker computes the rest, the client notices nothing.
  const Json fresh = Completion(TokenPrompt(900, 4), 24);
  const auto fresh_reference = Call(c.worker(0).port, "POST", "/v1/completions", fresh.dump());
  // The reference call cached the prompt on the prefill worker: restart it
  // so it must compute again, slowly.
  c.RestartWorker(0);
  ASSERT_TRUE(WaitHealthy(c.worker(0).port)) << c.Logs();
  ASSERT_TRUE(c.WaitRoutedWorkers(3)) << c.Logs();
  auto routed = std::async(std::launch::async, [&] { return Call(c.router_port(), "POST", "/v1/completions", fresh.dump()); });
  bool killed = false;
  for (int i = 0; i < 400 && !killed; ++i) {
    const auto m = Call(c.worker(0).port, "GET", "/metrics");
    if (m.body.find("\ntokenfab_kv_transfer_server_active 1\n") != std::string::npos) {
      c.worker(0).process->Kill(SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(2ms);
  }
  const auto got = routed.get();
  ASSERT_TRUE(killed) << "the transfer was never seen in progress" << c.Logs();
  ASSERT_EQ(got.status, 200) << got.body << c.Logs();
  EXPECT_EQ(Text(got), Text(fresh_reference));
  double fallbacks = 0;
  for (int w : {1, 2}) {
    fallbacks += ScrapeMetric(c.worker(w).port, "tokenfab_kv_transfer_fallbacks_total");
    EXPECT_TRUE(Baseline(c.worker(w).port, false)) << c.Logs();
  }
  EXPECT_EQ(fallbacks, 1) << c.Logs();

  // With every prefill worker gone, decode workers prefill locally.
  ASSERT_TRUE(c.WaitRoutedWorkers(2, 30s)) << c.Logs();
  const auto alone = Call(c.router_port(), "POST", "/v1/completions", Completion(TokenPrompt(200, 5), 4).dump());
  EXPECT_EQ(alone.status, 200);
  EXPECT_EQ(ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"fallback\"}"), 1) << c.Logs();

  // Back with a prefill worker: the decode worker is killed after the
  // transfer, mid-stream, and the request moves to the other one.
  c.RestartWorker(0);
  ASSERT_TRUE(WaitHealthy(c.worker(0).port)) << c.Logs();
  ASSERT_TRUE(c.WaitRoutedWorkers(3, 30s)) << c.Logs();
  int killed_decode = -1;
  const StreamResult moved = StreamCompletion(c.router_port(), body, [&](int64_t n) {
    if (n == 5 && killed_decode < 0) {
      killed_decode = c.BusyWorker();
      if (killed_decode >= 0) c.worker(killed_decode).process->Kill(SIGKILL);
    }
  });
  ASSERT_GE(killed_decode, 1) << c.Logs();
  EXPECT_TRUE(moved.error.empty()) << moved.error << c.Logs();
  EXPECT_EQ(moved.text, Text(reference));
  EXPECT_EQ(moved.usage["completion_tokens"], 24);
  EXPECT_GE(ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total"), 1);
  EXPECT_GE(ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"disaggregated\"}"), 2);
}

TEST(DisaggProcess, TwoPrefillAndTwoDecodeWorkersServeConcurrentRequests) {
  Cluster c("disagg-two-each");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker({"--role", "prefill"});
  c.AddWorker({"--role", "prefill"});
  c.AddWorker({"--role", "decode"});
  c.AddWorker({"--role", "decode"});
  c.StartRouter({"--disagg-min-tokens", "64", "--max-prefill-queue", "2"});
  ASSERT_TRUE(c.WaitRoutedWorkers(4)) << c.Logs();
  std::vector<Json> bodies;
  std::vector<std::string> expected;
  for (int i = 0; i < 8; ++i) {
    // Half long (disaggregated), half short (prefilled by the decode worker).
    bodies.push_back(Completion(TokenPrompt(i % 2 == 0 ? 300 : 20, 20 + i), 8));
    expected.push_back(Text(Call(c.worker(0).port, "POST", "/v1/completions", bodies.back().dump())));
  }
  std::vector<std::future<testing::HttpReply>> replies;
  for (const Json& b : bodies) {
    replies.push_back(std::async(std::launch::async, [&c, b] { return Call(c.router_port(), "POST", "/v1/completions", b.dump()); }));
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    const auto r = replies[i].get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Text(r), expected[i]) << i;
  }
  const double disagg = ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"disaggregated\"}");
  const double local = ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"local_prefill\"}");
  EXPECT_EQ(disagg + local, 8);
  EXPECT_GE(local, 4);  // the short ones, and long ones past a full prefill queue
  EXPECT_GE(disagg, 2);
  // Both prefill workers were used (the second takes what the first's cost makes dearer).
  const double acked0 = ScrapeMetric(c.worker(0).port, "tokenfab_kv_transfer_server_acked_total");
  const double acked1 = ScrapeMetric(c.worker(1).port, "tokenfab_kv_transfer_server_acked_total");
  EXPECT_EQ(acked0 + acked1, disagg);
  for (int w = 0; w < 4; ++w) EXPECT_TRUE(Baseline(c.worker(w).port, w < 2)) << w;
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

// Workers sharing a --kv-store directory: the router asks for the store
// path, full blocks travel as hashes, the output is the same; with
// --kv-transfer-path tcp the same pair moves bytes.
TEST(DisaggProcess, APairSharingAKvStoreMovesHashesThroughIt) {
  const std::string dir = ::testing::TempDir() + "/disagg-store-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  for (const char* path : {"auto", "tcp"}) {
    SCOPED_TRACE(path);
    Cluster c(std::string("disagg-store-") + path);
    ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
    c.AddWorker({"--role", "prefill", "--kv-store", dir, "--kv-store-gib", "0.2"});
    c.AddWorker({"--role", "decode", "--kv-store", dir, "--kv-store-gib", "0.2"});
    c.StartRouter({"--disagg-min-tokens", "16", "--kv-transfer-path", path});
    ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
    const Json body = Completion(TokenPrompt(300, std::string(path) == "auto" ? 40 : 41), 8);
    const auto routed = Call(c.router_port(), "POST", "/v1/completions", body.dump());
    ASSERT_EQ(routed.status, 200) << routed.body << c.Logs();
    EXPECT_EQ(Text(routed), Text(Call(c.worker(0).port, "POST", "/v1/completions", body.dump())));
    const double via_store = ScrapeMetric(c.worker(0).port, "tokenfab_kv_transfer_server_store_blocks_total");
    const double bytes = ScrapeMetric(c.worker(1).port, "tokenfab_kv_transfer_received_bytes_total");
    EXPECT_EQ(ScrapeMetric(c.worker(1).port, "tokenfab_kv_transfer_fallbacks_total"), 0) << c.Logs();
    if (std::string(path) == "auto") {
      EXPECT_EQ(via_store, 299 / 16) << c.Logs();  // every full block; the partial one as bytes
    } else {
      EXPECT_EQ(via_store, 0);
      EXPECT_GT(bytes, 0);
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

// Separate processes, hostile peers: a decode worker asked to take its KV
// from a prefill worker holding another cluster key, and from a port that
// answers with garbage. Both transfers are refused, the decode worker
// computes the prompt itself, and both workers end at baseline.
TEST(DisaggProcess, APrefillWorkerWithAnotherKeyOrAGarbagePeerIsRefused) {
  const std::string key_a = testing::TempPath("disagg-key-a"), key_b = testing::TempPath("disagg-key-b");
  std::ofstream(key_a) << "cluster-secret-a-of-some-length\n";
  std::ofstream(key_b) << "cluster-secret-b-of-some-length\n";
  const ClusterKey b = *ClusterKey::Load(key_b);
  Cluster c("disagg-hostile");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  const uint16_t transfer_port = testing::FreeLoopbackPort();
  c.AddWorker({"--role", "prefill", "--cluster-key", key_a, "--kv-transfer-port", std::to_string(transfer_port)});
  c.AddWorker({"--role", "decode", "--cluster-key", key_b});
  ASSERT_TRUE(WaitHealthy(c.worker(0).port) && WaitHealthy(c.worker(1).port)) << c.Logs();
  const uint16_t prefill = c.worker(0).port, decode = c.worker(1).port;
  // A listener that answers every connection with bytes that are no frame.
  const int garbage_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(garbage_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(garbage_fd, 4), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(garbage_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread garbage([garbage_fd] {
    const int conn = ::accept(garbage_fd, nullptr, nullptr);
    if (conn < 0) return;
    const std::string junk(4096, '\x5a');
    (void)::write(conn, junk.data(), junk.size());
    std::this_thread::sleep_for(500ms);
    ::close(conn);
  });
  // Joined even when an assertion returns early (accept unblocked by shutdown).
  struct JoinOnExit {
    std::thread* t;
    int fd;
    ~JoinOnExit() {
      ::shutdown(fd, SHUT_RDWR);
      if (t->joinable()) t->join();
      ::close(fd);
    }
  } join_on_exit{&garbage, garbage_fd};
  int salt = 60;
  for (const std::string& peer : {"127.0.0.1:" + std::to_string(transfer_port), "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))}) {
    SCOPED_TRACE(peer);
    const Json prompt = TokenPrompt(200, ++salt);
    const double fallbacks = ScrapeMetric(decode, "tokenfab_kv_transfer_fallbacks_total");
    const Json body = {{"model", "tiny"},    {"prompt", prompt},   {"max_tokens", 6},
                       {"ignore_eos", true}, {"sampling", {{"temperature", 0}}},
                       {"prefill", {{"peer", peer}, {"deadline_ms", 20000}}}};
    const std::string target = "/internal/v1/generate";
    const auto r = Call(decode, "POST", target, body.dump(),
                        {std::string(kClusterAuthHeader) + ": " + b.AuthHeaderValue("POST", target, body.dump(), UnixNowSeconds())});
    ASSERT_EQ(r.status, 200) << r.body << c.Logs();
    // The aggregated answer, from the prefill worker's own engine (its key).
    const ClusterKey a = *ClusterKey::Load(key_a);
    const Json direct = {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 6}, {"ignore_eos", true},
                         {"sampling", {{"temperature", 0}}}};
    const auto d = Call(prefill, "POST", target, direct.dump(),
                        {std::string(kClusterAuthHeader) + ": " + a.AuthHeaderValue("POST", target, direct.dump(), UnixNowSeconds())});
    EXPECT_EQ(SseTokens(r.body), SseTokens(d.body));
    EXPECT_EQ(ScrapeMetric(decode, "tokenfab_kv_transfer_fallbacks_total"), fallbacks + 1) << c.Logs();
    EXPECT_TRUE(Baseline(decode, false)) << c.Logs();
    EXPECT_TRUE(Baseline(prefill, true)) << c.Logs();
  }
  EXPECT_EQ(ScrapeMetric(prefill, "tokenfab_kv_transfer_server_refused_total"), 1);  // the wrong key
  EXPECT_EQ(ScrapeMetric(prefill, "tokenfab_kv_transfer_server_transfers_total"), 0);
  garbage.join();
}

}  // namespace
}  // namespace tf
