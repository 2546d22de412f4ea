// `tokenfab router` in front of `tokenfab serve` workers registered in a
// real etcd, all as separate processes: the OpenAI surface, KV-aware
// routing, migration of a stream whose worker is SIGKILLed (greedy and
// seeded, at several points), SIGTERM drain under load, etcd outages, no
// workers, a worker at capacity, a stalled worker, and the cluster key.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <thread>

#include "cluster/cluster_harness.h"
#include "cluster/etcd_client.h"
#include "cluster/stream_client.h"
#include "common/fault_proxy.h"

namespace tf {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing::Call;
using testing::Cluster;
using testing::StreamCompletion;
using testing::StreamResult;

void EtcdClientPut(const std::string& url, const std::string& key, const std::string& value) {
  StatusOr<EtcdClient> client = EtcdClient::FromUrl(url);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(client->Put(key, value).ok());
}

// Every registered key, one per line.
std::string EtcdKeys(const std::string& url) {
  StatusOr<EtcdClient> client = EtcdClient::FromUrl(url);
  StatusOr<EtcdRange> range = client->GetPrefix("/tokenfab/workers/");
  std::string out;
  if (range.ok()) {
    for (const auto& kv : range->kvs) out += kv.key + "\n";
  }
  return out;
}

Json LongGeneration(int max_tokens) {
  return {{"model", "tiny"}, {"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"temperature", 0},
          {"ignore_eos", true}};
}

// A prompt of `n` ids from the fixture vocabulary, distinct per `salt`.
Json TokenPrompt(int n, int salt) {
  Json ids = Json::array();
  for (int i = 0; i < n; ++i) ids.push_back(100 + (i * 37 + salt * 101) % 20000);
  return ids;
}

TEST(RouterProcess, ServesTheOpenAiSurfaceAndRoutesRepeatsToTheirCachedPrefix) {
  Cluster c("router-surface");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter();
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  EXPECT_EQ(Call(c.router_port(), "GET", "/health").status, 200);
  const Json models = Json::parse(Call(c.router_port(), "GET", "/v1/models").body);
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "tiny");
  EXPECT_EQ(models["data"][0]["max_model_len"], 1024);

  // The same answer as a worker gives directly, the same error shapes.
  const Json body = LongGeneration(12);
  const auto routed = Call(c.router_port(), "POST", "/v1/completions", body.dump());
  const auto direct = Call(c.worker(0).port, "POST", "/v1/completions", body.dump());
  ASSERT_EQ(routed.status, 200) << routed.body;
  EXPECT_EQ(Json::parse(routed.body)["choices"][0]["text"], Json::parse(direct.body)["choices"][0]["text"]);
  EXPECT_EQ(Json::parse(routed.body)["usage"]["completion_tokens"], 12);
  const auto bad = Call(c.router_port(), "POST", "/v1/completions", R"({"model":"tiny","prompt":"x","top_p":7})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Json::parse(bad.body)["error"]["param"], "top_p");
  EXPECT_EQ(Call(c.router_port(), "POST", "/v1/completions", R"({"model":"nope","prompt":"x"})").status, 404);

  // Four tenants' 300-token prefixes, each asked three times, interleaved:
  // every repeat lands where its prefix is cached (18 of its 18 full blocks).
  int64_t hits = 0, queries = 0;
  for (int round = 0; round < 3; ++round) {
    for (int tenant = 0; tenant < 4; ++tenant) {
      Json prompt = TokenPrompt(300, tenant);
      prompt.push_back(500 + round);  // a different last turn each time
      const auto r = Call(c.router_port(), "POST", "/v1/completions",
                          Json{{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 2}, {"temperature", 0}}.dump());
      ASSERT_EQ(r.status, 200) << r.body;
      const int64_t cached = Json::parse(r.body)["usage"]["prompt_tokens_details"]["cached_tokens"];
      if (round > 0) {
        hits += cached;
        queries += 301;
        EXPECT_GE(cached, 288) << "tenant " << tenant << " round " << round;
      }
    }
    std::this_thread::sleep_for(100ms);  // the KV events of this round reach the router
  }
  EXPECT_GT(hits, queries * 9 / 10);
}

// Kills the worker streaming a request after `cut` text events; the stream
// must go on to the same text as an uninterrupted run.
// Under CPU load the worker can finish all its tokens before this client
// has read `cut` of them (they wait in socket buffers), so nobody is busy
// at the cut; such a run is repeated (it must still match the reference),
// up to a few times.
void ExpectStreamSurvivesKill(Cluster& c, const Json& body, int64_t cut) {
  const StreamResult reference = StreamCompletion(c.router_port(), body);
  ASSERT_EQ(reference.status, 200);
  ASSERT_TRUE(reference.error.empty()) << reference.error;
  int killed = -1;
  StreamResult moved;
  for (int attempt = 0; attempt < 4 && killed < 0; ++attempt) {
    moved = StreamCompletion(c.router_port(), body, [&](int64_t n) {
      if (n == cut && killed < 0) {
        killed = c.BusyWorker();
        if (killed >= 0) c.worker(killed).process->Kill(SIGKILL);
      }
    });
    if (killed < 0) {
      EXPECT_EQ(moved.text, reference.text) << "unkilled run, cut " << cut;
    }
  }
  ASSERT_GE(killed, 0) << "no worker was busy at event " << cut << " in 4 runs";
  EXPECT_TRUE(moved.error.empty()) << moved.error << c.Logs();
  EXPECT_EQ(moved.text, reference.text) << "cut at " << cut;
  EXPECT_EQ(moved.usage["completion_tokens"], body["max_tokens"]);
  EXPECT_EQ(moved.usage["prompt_tokens"], reference.usage["prompt_tokens"]);
  EXPECT_TRUE(moved.saw_done);
  // Bring the killed worker back for the next case.
  c.RestartWorker(killed);
  ASSERT_TRUE(c.WaitRoutedWorkers(c.num_workers(), 30s)) << c.Logs();
}

TEST(RouterProcess, AStreamSurvivesItsWorkerBeingKilledAtAnyPoint) {
  Cluster c("router-migrate");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter({"--router-mode", "least-loaded"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  const Json greedy = LongGeneration(1000);
  Json seeded = greedy;
  seeded["temperature"] = 0.9;
  seeded["seed"] = 1234;
  seeded["top_k"] = 40;
  Json stopped = seeded;  // a stop string that an uninterrupted run meets late (or never)
  stopped["stop"] = Json::array({"zzqx"});
  for (const int64_t cut : {1, 37, 300}) {
    SCOPED_TRACE("greedy, cut " + std::to_string(cut));
    ExpectStreamSurvivesKill(c, greedy, cut);
  }
  for (const int64_t cut : {2, 150}) {
    SCOPED_TRACE("seeded, cut " + std::to_string(cut));
    ExpectStreamSurvivesKill(c, seeded, cut);
  }
  SCOPED_TRACE("seeded with stop strings");
  ExpectStreamSurvivesKill(c, stopped, 60);
  EXPECT_GE(testing::ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total"), 6);
}

TEST(RouterProcess, AfterTheMigrationLimitTheClientGetsACleanError) {
  Cluster c("router-limit");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  // Two workers behind proxies that reset every stream after its first
  // bytes of reply: each attempt fails, the second one is the last.
  const int a = c.AddWorker({}, false);
  const int b = c.AddWorker({}, false);
  testing::FaultProxy pa("127.0.0.1", c.worker(a).port), pb("127.0.0.1", c.worker(b).port);
  for (auto* p : {&pa, &pb}) {
    p->set_mode(testing::FaultProxy::Mode::kReset);
    p->set_reset_after_bytes(600);
  }
  c.AddWorkerArgs(a, {"--advertise", "127.0.0.1:" + std::to_string(pa.port())});
  c.AddWorkerArgs(b, {"--advertise", "127.0.0.1:" + std::to_string(pb.port())});
  c.RestartWorker(a);
  c.RestartWorker(b);
  c.StartRouter({"--migration-limit", "1"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  const StreamResult r = StreamCompletion(c.router_port(), LongGeneration(200));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.error.find("migration limit 1"), std::string::npos) << r.error << r.raw.substr(0, 2000);
  EXPECT_TRUE(r.saw_done);
  // The router stays up and says what happened.
  EXPECT_EQ(Call(c.router_port(), "GET", "/health").status, 200);
  EXPECT_EQ(testing::ScrapeMetric(c.router_port(), "tokenfab_router_failed_total"), 1);
}

TEST(RouterProcess, SigtermDrainsAWorkerUnderLoadAndNothingIsLost) {
  Cluster c("router-drain");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter({"--router-mode", "round-robin"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  std::vector<std::future<StreamResult>> results;
  for (int i = 0; i < 8; ++i) {
    results.push_back(std::async(std::launch::async, [&] { return StreamCompletion(c.router_port(), LongGeneration(600)); }));
  }
  std::this_thread::sleep_for(150ms);
  c.worker(0).process->Signal(SIGTERM);
  // Out of the registry at once (revoked before the drain).
  EXPECT_TRUE(c.WaitRoutedWorkers(1, 5s)) << c.Logs();
  // New requests go to the other worker only.
  const auto after = Call(c.router_port(), "POST", "/v1/completions", LongGeneration(4).dump());
  EXPECT_EQ(after.status, 200) << after.body;
  for (auto& f : results) {
    const StreamResult r = f.get();
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.usage["completion_tokens"], 600);
  }
  ASSERT_TRUE(c.worker(0).process->WaitExit(30s));
  EXPECT_TRUE(WIFEXITED(c.worker(0).process->exit_status()) && WEXITSTATUS(c.worker(0).process->exit_status()) == 0)
      << c.worker(0).process->log();
}

TEST(RouterProcess, AnEtcdOutageKeepsRoutingToKnownWorkersAndRecovers) {
  Cluster c("router-etcd");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter();
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string failures;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread load([&] {
    while (!stop) {
      const auto r = Call(c.router_port(), "POST", "/v1/completions", LongGeneration(16).dump());
      (r.status == 200 ? ok : failed)++;
      if (r.status != 200) failures += std::to_string(r.status) + " " + r.body + " at " + std::to_string((std::chrono::steady_clock::now() - t0) / 1ms) + " ms\n";
    }
  });
  std::this_thread::sleep_for(300ms);
  c.etcd().Kill();
  failures += "etcd killed at " + std::to_string((std::chrono::steady_clock::now() - t0) / 1ms) + " ms\n";
  bool degraded = false;
  for (int i = 0; i < 100 && !degraded; ++i) {
    const auto h = Call(c.router_port(), "GET", "/health");
    degraded = h.status == 200 && h.body.find("degraded") != std::string::npos;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(degraded) << c.router().log();
  std::this_thread::sleep_for(3s);  // past the workers' lease TTL: nothing expires while etcd is down
  EXPECT_EQ(Call(c.router_port(), "POST", "/v1/completions", LongGeneration(4).dump()).status, 200);
  failures += "etcd restarting at " + std::to_string((std::chrono::steady_clock::now() - t0) / 1ms) + " ms\n";
  ASSERT_TRUE(c.etcd().Start()) << c.etcd().log();
  failures += "etcd back at " + std::to_string((std::chrono::steady_clock::now() - t0) / 1ms) + " ms\n";
  bool recovered = false;
  for (int i = 0; i < 300 && !recovered; ++i) {
    const auto h = Call(c.router_port(), "GET", "/health");
    recovered = h.status == 200 && h.body.find("\"ok\"") != std::string::npos;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(recovered) << c.router().log();
  EXPECT_TRUE(c.WaitRoutedWorkers(2, 10s));
  stop = true;
  load.join();
  EXPECT_EQ(failed.load(), 0) << failures << c.Logs();
  EXPECT_GT(ok.load(), 10);
  EXPECT_NE(c.router().log().find("lost etcd"), std::string::npos);
}

TEST(RouterProcess, NoWorkersIs503WithRetryAfterAndALeaseThatExpiresLeavesRouting) {
  Cluster c("router-empty");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.StartRouter();
  ASSERT_TRUE(c.WaitRoutedWorkers(0)) << c.Logs();
  const auto r = Call(c.router_port(), "POST", "/v1/completions", LongGeneration(4).dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.count("retry-after"), 1u);
  EXPECT_EQ(Call(c.router_port(), "GET", "/health").status, 503);
  c.AddWorker();
  ASSERT_TRUE(c.WaitRoutedWorkers(1)) << c.Logs();
  EXPECT_EQ(Call(c.router_port(), "POST", "/v1/completions", LongGeneration(4).dump()).status, 200);
  // SIGSTOP: the worker neither revokes nor keeps alive; its 2 s lease expires.
  c.worker(0).process->Signal(SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.WaitRoutedWorkers(0, 10s)) << c.Logs();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);  // within the TTL (plus etcd's check interval)
  c.worker(0).process->Signal(SIGCONT);
  EXPECT_TRUE(c.WaitRoutedWorkers(1, 10s)) << c.Logs();  // re-registers
}

TEST(RouterProcess, AWorkerAtCapacityOrStalledSendsTheRequestOnward) {
  Cluster c("router-busy");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  // Worker 0 runs one request and queues none: a second one gets 429.
  c.AddWorker({"--max-num-seqs", "1", "--max-queue", "0"});
  c.AddWorker();
  c.StartRouter({"--router-mode", "round-robin", "--upstream-timeout", "1"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  std::vector<std::future<StreamResult>> results;
  for (int i = 0; i < 6; ++i) {
    results.push_back(std::async(std::launch::async, [&] { return StreamCompletion(c.router_port(), LongGeneration(800)); }));
  }
  for (auto& f : results) {
    const StreamResult r = f.get();
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.usage["completion_tokens"], 800);
  }
  EXPECT_GE(testing::ScrapeMetric(c.router_port(), "tokenfab_router_busy_redirects_total"), 1) << c.Logs();

  // A worker behind a proxy that swallows its replies: after the 1 s
  // upstream deadline the request is retried on the other worker.
  testing::FaultProxy stall("127.0.0.1", c.worker(1).port);
  stall.set_mode(testing::FaultProxy::Mode::kStall);
  c.AddWorkerArgs(1, {"--advertise", "127.0.0.1:" + std::to_string(stall.port())});
  c.RestartWorker(1);
  // The killed worker's entry lives out its lease; wait for the new one alone.
  const std::string proxied = "127.0.0.1:" + std::to_string(stall.port());
  const std::string old = "127.0.0.1:" + std::to_string(c.worker(1).port);
  bool replaced = false;
  for (int i = 0; i < 200 && !replaced; ++i) {
    const std::string keys = EtcdKeys(c.etcd().url());
    replaced = keys.find(proxied) != std::string::npos && keys.find(old) == std::string::npos;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(replaced) << EtcdKeys(c.etcd().url());
  ASSERT_TRUE(c.WaitRoutedWorkers(2, 30s)) << c.Logs();
  std::this_thread::sleep_for(200ms);
  const double moves_before = testing::ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total");
  for (int i = 0; i < 2; ++i) {  // round-robin: one of the two lands on the stalled worker
    const StreamResult r = StreamCompletion(c.router_port(), LongGeneration(20));
    EXPECT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.usage["completion_tokens"], 20);
  }
  EXPECT_GE(testing::ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total"), moves_before + 1);
  EXPECT_GE(stall.num_connections(), 1);
}

TEST(RouterProcess, WithAClusterKeyOnlyMembersGetIn) {
  Cluster c("router-key");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  const std::string key_file = testing::TempPath("cluster.key");
  std::ofstream(key_file) << "a-cluster-secret-of-some-length\n";
  c.AddWorker({"--cluster-key", key_file});
  c.StartRouter({"--cluster-key", key_file});
  ASSERT_TRUE(c.WaitRoutedWorkers(1)) << c.Logs();
  const auto routed = Call(c.router_port(), "POST", "/v1/completions", LongGeneration(4).dump());
  EXPECT_EQ(routed.status, 200) << routed.body;
  // The worker's internal route refuses unsigned and wrongly signed calls.
  const std::string internal = R"({"model":"tiny","prompt":[1,2,3],"max_tokens":2})";
  EXPECT_EQ(Call(c.worker(0).port, "POST", "/internal/v1/generate", internal).status, 401);
  EXPECT_EQ(Call(c.worker(0).port, "POST", "/internal/v1/generate", internal, {"X-Tokenfab-Auth: 1:deadbeef"}).status, 401);
  EXPECT_EQ(Call(c.worker(0).port, "GET", "/internal/v1/kv_blocks").status, 401);
  EXPECT_NE(c.worker(0).process->log().find("internal call /internal/v1/generate refused"), std::string::npos);
  // An unsigned entry put straight into etcd is refused and logged.
  const std::string rogue = R"({"address":"127.0.0.1:1","model":"tiny","role":"both","fingerprint":"x","kv_fingerprint":"x","kv_type":"f32","block_size":16,"kv_capacity_blocks":1,"ctx_size":1024,"n_vocab":32000,"kv_events":""})";
  EtcdClientPut(c.etcd().url(), "/tokenfab/workers/tiny/both/127.0.0.1:1", rogue);
  EXPECT_FALSE(c.router().WaitForLog("refusing /tokenfab/workers/tiny/both/127.0.0.1:1", 5s).empty()) << c.router().log();
  EXPECT_TRUE(c.WaitRoutedWorkers(1, 1s));
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

TEST(RouterProcess, RequestsSentToAJustKilledWorkerStartElsewhere) {
  Cluster c("router-dead");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter({"--router-mode", "round-robin"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  // Its entry stays for the lease's 2 s: the router still picks it.
  c.worker(0).process->Kill(SIGKILL);
  for (int i = 0; i < 4; ++i) {
    const auto r = Call(c.router_port(), "POST", "/v1/completions", LongGeneration(8).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Json::parse(r.body)["usage"]["completion_tokens"], 8);
  }
  EXPECT_GE(testing::ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total"), 1);
}

TEST(RouterProcess, ServesSeveralModelsEachOnItsOwnWorkers) {
  Cluster c("router-models");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();  // "tiny": the llama fixture
  const int qwen = c.AddWorker({}, false);
  auto& args = c.worker(qwen).args;
  args[3] = testing::FixturePath("models/tiny-qwen2-gpt2-bf16.gguf");
  args[7] = "qwen";
  c.RestartWorker(qwen);
  // A worker serving another file under the name "tiny": its fingerprint
  // differs from the router's "tiny", so it is refused, never routed to.
  const int impostor = c.AddWorker({}, false);
  c.worker(impostor).args[3] = testing::FixturePath("models/tiny-llama-spm-q4_0.gguf");
  c.RestartWorker(impostor);
  c.StartRouter({"-m", testing::FixturePath("models/tiny-qwen2-gpt2-bf16.gguf"), "--served-model-name", "qwen"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  EXPECT_FALSE(c.router().WaitForLog("refusing .*127\\.0\\.0\\.1:" + std::to_string(c.worker(impostor).port) +
                                     ": its model fingerprint", 20s).empty()) << c.router().log();
  EXPECT_TRUE(c.WaitRoutedWorkers(2, 1s));
  const Json models = Json::parse(Call(c.router_port(), "GET", "/v1/models").body);
  ASSERT_EQ(models["data"].size(), 2u);
  for (const char* name : {"tiny", "qwen"}) {
    Json body = LongGeneration(6);
    body["model"] = name;
    const auto routed = Call(c.router_port(), "POST", "/v1/completions", body.dump());
    const auto direct = Call(c.worker(std::string(name) == "tiny" ? 0 : qwen).port, "POST", "/v1/completions", body.dump());
    ASSERT_EQ(routed.status, 200) << routed.body;
    EXPECT_EQ(Json::parse(routed.body)["model"], name);
    EXPECT_EQ(Json::parse(routed.body)["choices"][0]["text"], Json::parse(direct.body)["choices"][0]["text"]) << name;
  }
}

TEST(RouterProcess, LoadgenThroughTheRouterLosesNothingWhenAWorkerDies) {
  Cluster c("router-loadgen");
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  c.AddWorker();
  c.AddWorker();
  c.StartRouter();
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs();
  const std::string out = testing::TempPath("router-loadgen.json");
  testing::ChildProcess loadgen({TOKENFAB_BIN, "loadgen", "--url", "http://127.0.0.1:" + std::to_string(c.router_port()),
                                 "--model", "tiny", "--concurrency", "4", "--num-requests", "32", "--input-tokens", "32",
                                 "--output-tokens", "400", "--no-progress", "--json", out},
                                "router-loadgen");
  std::this_thread::sleep_for(1500ms);
  const int busy = c.BusyWorker();
  ASSERT_GE(busy, 0) << loadgen.log();
  c.worker(busy).process->Kill(SIGKILL);
  ASSERT_TRUE(loadgen.WaitExit(120s)) << loadgen.log();
  ASSERT_EQ(WEXITSTATUS(loadgen.exit_status()), 0) << loadgen.log();
  const Json report = Json::parse(testing::ReadFile(out));
  int ok = 0;
  for (const Json& r : report["runs"][0]["requests"]) {
    EXPECT_TRUE(r["error"].is_null()) << r.dump();
    EXPECT_EQ(r["output_tokens"], 400);
    ok += r["error"].is_null() ? 1 : 0;
  }
  EXPECT_EQ(ok, 32);
  EXPECT_GE(testing::ScrapeMetric(c.router_port(), "tokenfab_router_migrations_total"), 1);
}

}  // namespace
}  // namespace tf
