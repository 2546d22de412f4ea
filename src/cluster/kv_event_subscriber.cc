#include "cluster/kv_event_subscriber.h"

#include <zmq.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "base/logging.h"

namespace tf {

KvEventSubscriber::KvEventSubscriber(std::function<void(const std::string&, KvEventBatch)> on_batch)
    : on_batch_(std::move(on_batch)) {}

KvEventSubscriber::~KvEventSubscriber() { Stop(); }

void KvEventSubscriber::Start() { thread_ = std::thread([this] { Loop(); }); }

void KvEventSubscriber::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void KvEventSubscriber::SetEndpoints(std::set<std::string> endpoints) {
  std::lock_guard<std::mutex> lock(mu_);
  wanted_ = std::move(endpoints);
}

void KvEventSubscriber::Reconcile(void* context, std::map<std::string, void*>* sockets) {
  std::set<std::string> wanted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wanted = wanted_;
  }
  for (auto it = sockets->begin(); it != sockets->end();) {
    if (wanted.count(it->first) == 0) {
      zmq_close(it->second);
      it = sockets->erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& endpoint : wanted) {
    if (sockets->count(endpoint) > 0) continue;
    void* socket = zmq_socket(context, ZMQ_SUB);
    const int linger_ms = 0;
    const int64_t max_message_bytes = 64 << 20;
    zmq_setsockopt(socket, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_message_bytes, sizeof(max_message_bytes));
    zmq_setsockopt(socket, ZMQ_SUBSCRIBE, kKvEventsTopic, std::strlen(kKvEventsTopic));
    const std::string address = "tcp://" + endpoint;
    if (zmq_connect(socket, address.c_str()) != 0) {
      TF_LOG_WARN("kv events: cannot connect {}: {}", address, zmq_strerror(zmq_errno()));
      zmq_close(socket);
      continue;
    }
    (*sockets)[endpoint] = socket;
  }
}

void KvEventSubscriber::Receive(const std::string& endpoint, void* socket) {
  std::vector<std::string> frames;
  int more = 1;
  while (more != 0 && frames.size() < 8) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return;
    }
    frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  // Drain what is left of an over-long message.
  while (more != 0) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0) more = 0; else more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
  }
  if (frames.size() != 3 || frames[0] != kKvEventsTopic) {
    ++num_decode_errors_;
    return;
  }
  StatusOr<KvEventBatch> batch = DecodeKvEventMessage(frames[1], frames[2]);
  if (!batch.ok()) {
    if (num_decode_errors_++ < 10) TF_LOG_WARN("kv events from {}: {}", endpoint, batch.status().message());
    return;
  }
  on_batch_(endpoint, std::move(*batch));
}

void KvEventSubscriber::Loop() {
  void* context = zmq_ctx_new();
  std::map<std::string, void*> sockets;
  while (!stop_) {
    Reconcile(context, &sockets);
    std::vector<zmq_pollitem_t> items;
    std::vector<std::string> names;
    for (const auto& [endpoint, socket] : sockets) {
      items.push_back({socket, 0, ZMQ_POLLIN, 0});
      names.push_back(endpoint);
    }
    if (items.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (zmq_poll(items.data(), static_cast<int>(items.size()), 100) <= 0) continue;
    for (size_t i = 0; i < items.size(); ++i) {
      if ((items[i].revents & ZMQ_POLLIN) != 0) {
        for (int n = 0; n < 64; ++n) {
          int events = 0;
          size_t size = sizeof(events);
          zmq_getsockopt(items[i].socket, ZMQ_EVENTS, &events, &size);
          if ((events & ZMQ_POLLIN) == 0) break;
          Receive(names[i], items[i].socket);
        }
      }
    }
  }
  for (auto& [endpoint, socket] : sockets) zmq_close(socket);
  zmq_ctx_term(context);
}

}  // namespace tf
