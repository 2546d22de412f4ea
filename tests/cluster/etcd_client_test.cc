// The etcd client, the worker registration and the registry watcher
// against a real etcd (Debian's etcd-server, started on free loopback
// ports by the test).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/registry_watcher.h"
#include "cluster/worker_registration.h"
#include "common/child_process.h"

namespace tf {
namespace {

using namespace std::chrono_literals;

WorkerEntry Entry(const std::string& address) {
  WorkerEntry e;
  e.address = address;
  e.model = "tiny";
  e.fingerprint = "fp";
  e.kv_fingerprint = "fp|kv=f32|block=16";
  e.kv_type = "f32";
  e.block_size = 16;
  e.kv_capacity_blocks = 100;
  e.ctx_size = 512;
  e.n_vocab = 1000;
  return e;
}

// Collects the watcher's snapshots; waits for one that satisfies a test.
class SnapshotLog {
 public:
  void Add(const RegistrySnapshot& s) {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = s;
    cv_.notify_all();
  }
  bool WaitFor(const std::function<bool(const RegistrySnapshot&)>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(last_); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  RegistrySnapshot last_;
};

TEST(EtcdClientTest, KeysPrefixesLeasesAndWatchOnARealEtcd) {
  testing::EtcdProcess etcd("etcd-client");
  ASSERT_TRUE(etcd.Start()) << etcd.log();
  EtcdClient client = *EtcdClient::FromUrl(etcd.url());
  ASSERT_TRUE(client.Put("/t/a", "1").ok());
  ASSERT_TRUE(client.Put("/t/b", std::string("\0bin\xff", 5)).ok());
  ASSERT_TRUE(client.Put("/u/c", "3").ok());
  StatusOr<EtcdRange> range = client.GetPrefix("/t/");
  ASSERT_TRUE(range.ok()) << range.status().message();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[1].value, std::string("\0bin\xff", 5));
  EXPECT_GT(range->revision, 0);

  // A watch from the next revision sees a put and a delete, in order.
  std::atomic<bool> stop{false};
  std::vector<EtcdWatchEvent> seen;
  std::thread watcher([&] {
    (void)client.WatchPrefix(
        "/t/", range->revision + 1,
        [&](const std::vector<EtcdWatchEvent>& events, int64_t) {
          seen.insert(seen.end(), events.begin(), events.end());
          return seen.size() < 2;
        },
        stop);
  });
  ASSERT_TRUE(client.Put("/t/new", "x").ok());
  ASSERT_TRUE(client.Delete("/t/a").ok());
  watcher.join();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, EtcdWatchEvent::Type::kPut);
  EXPECT_EQ(seen[0].kv.key, "/t/new");
  EXPECT_EQ(seen[1].type, EtcdWatchEvent::Type::kDelete);
  EXPECT_EQ(seen[1].kv.key, "/t/a");

  // A key under a lease goes with its revocation; a dead lease is NotFound.
  StatusOr<int64_t> lease = client.LeaseGrant(30);
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  ASSERT_TRUE(client.Put("/t/leased", "v", *lease).ok());
  EXPECT_EQ(client.LeaseKeepAlive(*lease).value(), 30);
  EXPECT_EQ(client.Get("/t/leased")->kvs.size(), 1u);
  ASSERT_TRUE(client.LeaseRevoke(*lease).ok());
  EXPECT_EQ(client.Get("/t/leased")->kvs.size(), 0u);
  EXPECT_EQ(client.LeaseKeepAlive(*lease).status().code(), StatusCode::kNotFound);

  // A watch is stopped by its flag.
  stop = false;
  std::thread idle([&] { EXPECT_TRUE(client.WatchPrefix("/none/", 0, [](const auto&, int64_t) { return true; }, stop).ok()); });
  std::this_thread::sleep_for(200ms);
  stop = true;
  idle.join();

  // Without etcd every call fails fast with Unavailable.
  etcd.Kill();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client.Put("/t/x", "y").code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST(EtcdClientTest, RegistrationAndWatcherFollowJoinsLeavesAndEtcdOutages) {
  testing::EtcdProcess etcd("etcd-registry");
  ASSERT_TRUE(etcd.Start()) << etcd.log();
  EtcdClient client = *EtcdClient::FromUrl(etcd.url(), 1000ms);
  const ClusterKey key = *ClusterKey::FromSecret("registry-test-secret");
  SnapshotLog log;
  RegistryWatcher watcher(client, key, [&](const RegistrySnapshot& s) { log.Add(s); });
  watcher.Start();
  ASSERT_TRUE(log.WaitFor([](const auto& s) { return s.etcd_ok && s.workers.empty(); }, 10s));

  WorkerRegistration a(client, Entry("127.0.0.1:9001"), 2, key);
  WorkerRegistration b(client, Entry("127.0.0.1:9002"), 2, key);
  a.Start();
  b.Start();
  ASSERT_TRUE(log.WaitFor([](const auto& s) { return s.workers.size() == 2; }, 10s));
  // An entry without the cluster's HMAC is refused, not routed to.
  ASSERT_TRUE(client.Put(Entry("10.9.9.9:1").Key(), Entry("10.9.9.9:1").ToJson(nullptr)).ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(log.WaitFor([](const auto& s) { return s.workers.size() == 2; }, 1s));

  // Revoke: gone at once.
  a.Revoke();
  ASSERT_TRUE(log.WaitFor([](const auto& s) { return s.workers.size() == 1 && s.workers.begin()->second.address == "127.0.0.1:9002"; }, 5s));

  // etcd down: the watcher says so and keeps the last set; back up: the
  // registration's lease (persisted by etcd) is kept alive again.
  etcd.Kill();
  ASSERT_TRUE(log.WaitFor([](const auto& s) { return !s.etcd_ok && s.workers.size() == 1; }, 10s));
  ASSERT_TRUE(etcd.Start()) << etcd.log();
  ASSERT_TRUE(log.WaitFor([](const auto& s) { return s.etcd_ok && s.workers.size() == 1; }, 15s));
  std::this_thread::sleep_for(3s);  // past the 2 s TTL: only keep-alives hold the entry
  EXPECT_TRUE(log.WaitFor([](const auto& s) { return s.etcd_ok && s.workers.size() == 1; }, 1s));
  EXPECT_TRUE(b.registered());
  watcher.Stop();
}

}  // namespace
}  // namespace tf
