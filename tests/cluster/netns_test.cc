// Workers in their own network namespaces, each behind a veth pair with a
// tbf rate limit and a fault-injecting proxy on the router's side, so
// router <-> worker traffic crosses a real network stack: a stream moves
// when its worker's link resets mid-reply and when its worker is killed.
// Needs root (CI runs as root); elsewhere it is skipped with the reason.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cluster/cluster_harness.h"
#include "cluster/stream_client.h"
#include "common/fault_proxy.h"
#include "cluster/netns_link.h"

namespace tf {
namespace {

using testing::NetnsLink;
using testing::ShOut;

using namespace std::chrono_literals;
using Json = nlohmann::json;

TEST(RouterNetns, StreamsMoveAcrossNamespacedWorkersWhenLinksResetAndWorkersDie) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root (CI runs as root); not root here";
  std::vector<std::unique_ptr<NetnsLink>> links;
  for (int i = 0; i < 2; ++i) {
    links.push_back(std::make_unique<NetnsLink>(i, "200mbit"));
    if (!links.back()->ok()) GTEST_SKIP() << "cannot create a network namespace with a veth pair and tbf here";
  }
  testing::Cluster c("router-netns", /*etcd_listen_all=*/true);
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  std::vector<std::unique_ptr<testing::FaultProxy>> proxies;
  std::vector<std::unique_ptr<testing::ChildProcess>> workers;
  std::vector<std::vector<std::string>> worker_args;
  const uint16_t worker_port = 8080;  // each namespace has its own ports
  for (int i = 0; i < 2; ++i) {
    const NetnsLink& link = *links[i];
    proxies.push_back(std::make_unique<testing::FaultProxy>(link.ns_ip(), worker_port));
    const std::string etcd = "http://" + link.host_ip() + ":" + std::to_string(c.etcd().port());
    worker_args.push_back({"ip", "netns", "exec", link.ns(), TOKENFAB_BIN, "serve", "-m",
                           testing::FixturePath(testing::kClusterModel), "--host", link.ns_ip(), "--port",
                           std::to_string(worker_port), "--advertise", "127.0.0.1:" + std::to_string(proxies[i]->port()),
                           "--served-model-name", "tiny", "--ctx-size", "1024", "-t", "1", "--etcd", etcd, "--lease-ttl",
                           "2"});
    workers.push_back(std::make_unique<testing::ChildProcess>(worker_args[i], "netns-worker" + std::to_string(i)));
  }
  c.StartRouter({"--router-mode", "least-loaded"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs() << workers[0]->log() << workers[1]->log();

  const Json body = {{"model", "tiny"}, {"prompt", "Once upon a time"}, {"max_tokens", 800}, {"temperature", 0},
                     {"ignore_eos", true}};
  const testing::StreamResult reference = testing::StreamCompletion(c.router_port(), body);
  ASSERT_TRUE(reference.error.empty()) << reference.error;
  auto busy = [&] {
    for (int i = 0; i < 2; ++i) {
      if (proxies[i]->num_active() > 0) return i;
    }
    return -1;
  };

  // The link of the worker streaming it resets mid-reply.
  int reset = -1;
  testing::StreamResult moved = testing::StreamCompletion(c.router_port(), body, [&](int64_t n) {
    if (n == 100 && reset < 0) {
      reset = busy();
      if (reset >= 0) {
        proxies[reset]->set_reset_after_bytes(0);
        proxies[reset]->set_mode(testing::FaultProxy::Mode::kReset);
      }
    }
  });
  ASSERT_GE(reset, 0);
  EXPECT_TRUE(moved.error.empty()) << moved.error;
  EXPECT_EQ(moved.text, reference.text);
  EXPECT_EQ(moved.usage["completion_tokens"], 800);
  proxies[reset]->set_mode(testing::FaultProxy::Mode::kPass);

  // The worker streaming it is killed.
  int killed = -1;
  moved = testing::StreamCompletion(c.router_port(), body, [&](int64_t n) {
    if (n == 200 && killed < 0) {
      killed = busy();
      if (killed >= 0) workers[killed]->Kill(SIGKILL);
    }
  });
  ASSERT_GE(killed, 0);
  EXPECT_TRUE(moved.error.empty()) << moved.error;
  EXPECT_EQ(moved.text, reference.text);
  // The traffic crossed the rate-limited links (SSE replies leave each namespace through tbf).
  EXPECT_GT(links[0]->HostBytesSent() + links[1]->HostBytesSent(), 0);
  const std::string ns_side = ShOut(links[1 - killed]->Exec("tc -s qdisc show dev tfn" +
                                                           std::to_string(::getpid() % 100000) + "x" +
                                                           std::to_string(1 - killed)));
  EXPECT_NE(ns_side.find("tbf"), std::string::npos) << ns_side;
  EXPECT_EQ(ns_side.find("Sent 0 bytes"), std::string::npos) << ns_side;
}

}  // namespace
}  // namespace tf

namespace tf {
namespace {

// A prefill worker in its own namespace behind a 100 Mbit/s tbf link, a
// decode worker and the router on the host: the prompt's KV crosses the
// link, and the output equals the prefill worker's own aggregated answer.
TEST(DisaggNetns, KvCrossesARateLimitedLinkAndTheOutputIsExact) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root (CI runs as root); not root here";
  NetnsLink link(12, "100mbit");
  if (!link.ok()) GTEST_SKIP() << "cannot create a network namespace with a veth pair and tbf here";
  testing::Cluster c("disagg-netns", /*etcd_listen_all=*/true);
  ASSERT_TRUE(c.StartEtcd()) << c.etcd().log();
  const std::string etcd = "http://" + link.host_ip() + ":" + std::to_string(c.etcd().port());
  testing::ChildProcess prefill({"ip", "netns", "exec", link.ns(), TOKENFAB_BIN, "serve", "-m",
                                 testing::FixturePath(testing::kClusterModel), "--host", link.ns_ip(), "--port", "8080",
                                 "--served-model-name", "tiny", "--ctx-size", "1024", "-t", "1", "--etcd", etcd,
                                 "--lease-ttl", "2", "--role", "prefill", "--kv-transfer-port", "9000"},
                                "netns-prefill");
  c.AddWorker({"--role", "decode"});
  c.StartRouter({"--disagg-min-tokens", "16"});
  ASSERT_TRUE(c.WaitRoutedWorkers(2)) << c.Logs() << prefill.log();
  Json prompt = Json::array();
  for (int i = 0; i < 600; ++i) prompt.push_back(100 + (i * 53) % 20000);
  const Json body = {{"model", "tiny"}, {"prompt", prompt}, {"max_tokens", 16}, {"temperature", 0}, {"ignore_eos", true}};
  const int64_t ns_sent_before = link.NsBytesSent();
  const auto routed = testing::Call(c.router_port(), "POST", "/v1/completions", body.dump());
  ASSERT_EQ(routed.status, 200) << routed.body << c.Logs() << prefill.log();
  const int64_t ns_sent = link.NsBytesSent() - ns_sent_before;
  const double received = testing::ScrapeMetric(c.worker(0).port, "tokenfab_kv_transfer_received_bytes_total");
  EXPECT_EQ(testing::ScrapeMetric(c.router_port(), "tokenfab_router_requests_total{path=\"disaggregated\"}"), 1);
  EXPECT_EQ(testing::ScrapeMetric(c.worker(0).port, "tokenfab_kv_transfer_fallbacks_total"), 0) << c.Logs() << prefill.log();
  EXPECT_GT(received, 0);
  EXPECT_GE(static_cast<double>(ns_sent), received);  // the KV left the namespace through tbf
  const std::string aggregated = ShOut(link.Exec("curl -s -H 'Content-Type: application/json' -d '" + body.dump() +
                                                 "' http://" + link.ns_ip() + ":8080/v1/completions"));
  const Json a = Json::parse(aggregated, nullptr, false);
  ASSERT_TRUE(a.is_object()) << aggregated;
  EXPECT_EQ(Json::parse(routed.body)["choices"][0]["text"], a["choices"][0]["text"]);
  prefill.Kill(SIGKILL);
}

}  // namespace
}  // namespace tf
