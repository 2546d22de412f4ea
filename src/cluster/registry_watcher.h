// The router's view of the registry: a thread that ranges over the worker
// prefix, then watches it from the next revision, and after any failure
// (etcd down, a compacted revision) backs off and starts again with a fresh
// range. Each change hands the whole current set to the callback; while
// etcd is unreachable the last set stays in force and the callback hears
// etcd_ok = false. Entries that fail to parse or to verify are refused and
// logged, never routed to.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "cluster/cluster_key.h"
#include "cluster/etcd_client.h"
#include "cluster/worker_entry.h"

namespace tf {

struct RegistrySnapshot {
  std::map<std::string, WorkerEntry> workers;  // by etcd key
  bool etcd_ok = false;
  std::string etcd_error;  // when !etcd_ok
};

class RegistryWatcher {
 public:
  // `on_change` runs on the watcher thread.
  RegistryWatcher(EtcdClient etcd, std::optional<ClusterKey> key, std::function<void(const RegistrySnapshot&)> on_change);
  ~RegistryWatcher();
  void Start();
  void Stop();

 private:
  void Loop();
  Status RangeAndWatch();
  void Apply(const EtcdKeyValue& kv);
  void Publish();

  EtcdClient etcd_;
  std::optional<ClusterKey> key_;
  std::function<void(const RegistrySnapshot&)> on_change_;
  RegistrySnapshot current_;  // watcher thread only
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tf
