// A worker's membership: a lease of --lease-ttl seconds, the worker's entry
// put under it, and a thread that keeps the lease alive (every TTL/3) and,
// when the lease is lost (etcd restarted, a long pause), grants a new one
// and puts the entry again. Revoke() ends it first thing at shutdown, so
// routers stop sending before the worker drains.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cluster/cluster_key.h"
#include "cluster/etcd_client.h"
#include "cluster/worker_entry.h"

namespace tf {

class WorkerRegistration {
 public:
  WorkerRegistration(EtcdClient etcd, WorkerEntry entry, int64_t lease_ttl_s, std::optional<ClusterKey> key);
  ~WorkerRegistration();  // stops the thread; revokes if Revoke() was not called

  // Starts the keep-alive thread; the first registration happens on it
  // (etcd may be down at start: the worker serves anyway and keeps trying).
  void Start();
  // Stops keeping alive and revokes the lease (the entry goes with it).
  void Revoke();
  bool registered() const { return registered_.load(); }

 private:
  void Loop();
  bool Register();

  EtcdClient etcd_;
  WorkerEntry entry_;
  int64_t lease_ttl_s_;
  std::optional<ClusterKey> key_;
  int64_t lease_id_ = 0;  // registration thread, then Revoke after join
  std::atomic<bool> registered_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tf
