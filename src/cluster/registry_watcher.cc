#include "cluster/registry_watcher.h"

#include <chrono>

#include "base/logging.h"

namespace tf {

RegistryWatcher::RegistryWatcher(EtcdClient etcd, std::optional<ClusterKey> key,
                                 std::function<void(const RegistrySnapshot&)> on_change)
    : etcd_(std::move(etcd)), key_(std::move(key)), on_change_(std::move(on_change)) {}

RegistryWatcher::~RegistryWatcher() { Stop(); }

void RegistryWatcher::Start() { thread_ = std::thread([this] { Loop(); }); }

void RegistryWatcher::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void RegistryWatcher::Apply(const EtcdKeyValue& kv) {
  StatusOr<WorkerEntry> entry = ParseWorkerEntry(kv.value, key_ ? &*key_ : nullptr);
  if (!entry.ok()) {
    TF_LOG_WARN("registry: refusing {}: {}", kv.key, entry.status().message());
    current_.workers.erase(kv.key);
    return;
  }
  if (entry->Key() != kv.key) {
    TF_LOG_WARN("registry: refusing {}: the entry names itself {}", kv.key, entry->Key());
    current_.workers.erase(kv.key);
    return;
  }
  current_.workers[kv.key] = std::move(*entry);
}

void RegistryWatcher::Publish() {
  if (on_change_) on_change_(current_);
}

Status RegistryWatcher::RangeAndWatch() {
  TF_ASSIGN_OR_RETURN(EtcdRange range, etcd_.GetPrefix(kWorkersPrefix));
  current_.workers.clear();
  for (const EtcdKeyValue& kv : range.kvs) Apply(kv);
  if (!current_.etcd_ok) TF_LOG_INFO("registry: etcd at {} is reachable; {} workers", etcd_.url(), current_.workers.size());
  current_.etcd_ok = true;
  current_.etcd_error.clear();
  Publish();
  return etcd_.WatchPrefix(
      kWorkersPrefix, range.revision + 1,
      [this](const std::vector<EtcdWatchEvent>& events, int64_t) {
        if (events.empty()) return true;
        for (const EtcdWatchEvent& e : events) {
          if (e.type == EtcdWatchEvent::Type::kDelete) {
            if (current_.workers.erase(e.kv.key) > 0) TF_LOG_INFO("registry: {} left", e.kv.key);
          } else {
            const bool known = current_.workers.count(e.kv.key) > 0;
            Apply(e.kv);
            if (!known && current_.workers.count(e.kv.key) > 0) TF_LOG_INFO("registry: {} joined", e.kv.key);
          }
        }
        Publish();
        return true;
      },
      stop_);
}

void RegistryWatcher::Loop() {
  auto backoff = std::chrono::milliseconds(200);
  while (!stop_) {
    const Status s = RangeAndWatch();
    if (stop_) break;
    if (current_.etcd_ok) {
      TF_LOG_WARN("registry: lost etcd at {}: {}; routing to the last {} known workers", etcd_.url(), s.message(),
                  current_.workers.size());
      backoff = std::chrono::milliseconds(200);
    }
    current_.etcd_ok = false;
    current_.etcd_error = s.message();
    Publish();
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_; waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace tf
