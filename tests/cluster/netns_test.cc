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

namespace tf {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

int Sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string ShOut(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// A namespace with a veth link to the host: host side 10.213.<i>.1, the
// namespace's side 10.213.<i>.2, both rate-limited by tbf. Deleted (with
// its link) on destruction.
class NetnsLink {
 public:
  NetnsLink(int i, const std::string& rate) : index_(i) {
    const std::string tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(i);
    ns_ = "tfns" + tag;
    host_if_ = "tfh" + tag;
    ns_if_ = "tfn" + tag;
    host_ip_ = "10.213." + std::to_string(i) + ".1";
    ns_ip_ = "10.213." + std::to_string(i) + ".2";
    ok_ = Sh("ip netns add " + ns_) == 0;
    if (!ok_) return;
    created_ = true;
    ok_ = Sh("ip link add " + host_if_ + " type veth peer name " + ns_if_) == 0 &&
          Sh("ip link set " + ns_if_ + " netns " + ns_) == 0 &&
          Sh("ip addr add " + host_ip_ + "/24 dev " + host_if_) == 0 && Sh("ip link set " + host_if_ + " up") == 0 &&
          Sh(Exec("ip addr add " + ns_ip_ + "/24 dev " + ns_if_)) == 0 && Sh(Exec("ip link set " + ns_if_ + " up")) == 0 &&
          Sh(Exec("ip link set lo up")) == 0 &&
          Sh("tc qdisc add dev " + host_if_ + " root tbf rate " + rate + " burst 64kb latency 50ms") == 0 &&
          Sh(Exec("tc qdisc add dev " + ns_if_ + " root tbf rate " + rate + " burst 64kb latency 50ms")) == 0;
  }
  ~NetnsLink() {
    if (created_) Sh("ip netns del " + ns_);
    Sh("ip link del " + host_if_);
  }
  bool ok() const { return ok_; }
  std::string Exec(const std::string& command) const { return "ip netns exec " + ns_ + " " + command; }
  const std::string& ns() const { return ns_; }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }
  // Bytes tbf has sent out of the host's end of the link.
  int64_t HostBytesSent() const {
    const std::string out = ShOut("tc -s qdisc show dev " + host_if_);
    const size_t at = out.find("Sent ");
    return at == std::string::npos ? -1 : std::atoll(out.c_str() + at + 5);
  }

 private:
  int index_;
  bool ok_ = false;
  bool created_ = false;
  std::string ns_, host_if_, ns_if_, host_ip_, ns_ip_;
};

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
