#include "cluster/worker_registration.h"

#include "base/logging.h"

namespace tf {

WorkerRegistration::WorkerRegistration(EtcdClient etcd, WorkerEntry entry, int64_t lease_ttl_s,
                                       std::optional<ClusterKey> key)
    : etcd_(std::move(etcd)), entry_(std::move(entry)), lease_ttl_s_(lease_ttl_s), key_(std::move(key)) {}

WorkerRegistration::~WorkerRegistration() { Revoke(); }

void WorkerRegistration::Start() { thread_ = std::thread([this] { Loop(); }); }

bool WorkerRegistration::Register() {
  StatusOr<int64_t> lease = etcd_.LeaseGrant(lease_ttl_s_);
  if (!lease.ok()) {
    TF_LOG_WARN("registry: cannot register {} at {}: {}", entry_.Key(), etcd_.url(), lease.status().message());
    return false;
  }
  const Status put = etcd_.Put(entry_.Key(), entry_.ToJson(key_ ? &*key_ : nullptr), *lease);
  if (!put.ok()) {
    TF_LOG_WARN("registry: cannot put {}: {}", entry_.Key(), put.message());
    (void)etcd_.LeaseRevoke(*lease);
    return false;
  }
  lease_id_ = *lease;
  registered_ = true;
  TF_LOG_INFO("registry: registered {} at {} (lease {:x}, TTL {} s)", entry_.Key(), etcd_.url(), lease_id_, lease_ttl_s_);
  return true;
}

void WorkerRegistration::Loop() {
  const auto interval = std::chrono::milliseconds(std::max<int64_t>(200, lease_ttl_s_ * 1000 / 3));
  const auto retry = std::chrono::milliseconds(500);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    bool ok;
    if (lease_id_ == 0) {
      ok = Register();
    } else {
      StatusOr<int64_t> ttl = etcd_.LeaseKeepAlive(lease_id_);
      ok = ttl.ok();
      if (!ok) {
        TF_LOG_WARN("registry: keep-alive of lease {:x} failed: {}", lease_id_, ttl.status().message());
        // A lease etcd no longer knows is gone for good; one we could not
        // reach may still be alive, so keep trying it until it would expire.
        if (ttl.status().code() == StatusCode::kNotFound) {
          lease_id_ = 0;
          registered_ = false;
        }
      }
    }
    lock.lock();
    cv_.wait_for(lock, ok ? interval : retry, [this] { return stop_; });
  }
}

void WorkerRegistration::Revoke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable() && lease_id_ == 0) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lease_id_ != 0) {
    const Status s = etcd_.LeaseRevoke(lease_id_);
    if (s.ok()) {
      TF_LOG_INFO("registry: revoked lease {:x} ({})", lease_id_, entry_.Key());
    } else {
      TF_LOG_WARN("registry: revoking lease {:x}: {} (it expires in {} s)", lease_id_, s.message(), lease_ttl_s_);
    }
    lease_id_ = 0;
  }
  registered_ = false;
}

}  // namespace tf
