// The router's side of KV events: one thread with a ZMQ SUB socket per
// worker endpoint, decoding each message and handing it to a callback
// (which posts it to the io thread). Endpoints are added and removed from
// any thread; the thread picks the change up within 100 ms.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cluster/kv_event_codec.h"

namespace tf {

class KvEventSubscriber {
 public:
  // `on_batch(endpoint, batch)` runs on the subscriber thread.
  explicit KvEventSubscriber(std::function<void(const std::string&, KvEventBatch)> on_batch);
  ~KvEventSubscriber();
  void Start();
  void Stop();
  // The set of host:port endpoints to listen to.
  void SetEndpoints(std::set<std::string> endpoints);
  int64_t num_decode_errors() const { return num_decode_errors_.load(); }

 private:
  void Loop();
  void Reconcile(void* context, std::map<std::string, void*>* sockets);
  void Receive(const std::string& endpoint, void* socket);

  std::function<void(const std::string&, KvEventBatch)> on_batch_;
  std::mutex mu_;
  std::set<std::string> wanted_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> num_decode_errors_{0};
  std::thread thread_;
};

}  // namespace tf
