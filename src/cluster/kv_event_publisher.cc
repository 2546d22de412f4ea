#include "cluster/kv_event_publisher.h"

#include <zmq.h>

#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/kv_event_codec.h"

namespace tf {
namespace {

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

StatusOr<std::unique_ptr<KvEventPublisher>> KvEventPublisher::Bind(const std::string& host, int port, int block_size) {
  void* context = zmq_ctx_new();
  if (context == nullptr) return InternalError("zmq_ctx_new failed");
  void* socket = zmq_socket(context, ZMQ_PUB);
  const int linger_ms = 0;
  zmq_setsockopt(socket, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
  const std::string address = port == 0 ? fmt::format("tcp://{}:*", host) : fmt::format("tcp://{}:{}", host, port);
  if (zmq_bind(socket, address.c_str()) != 0) {
    const std::string why = zmq_strerror(zmq_errno());
    zmq_close(socket);
    zmq_ctx_term(context);
    return UnavailableError(fmt::format("--kv-events-port: cannot bind {}: {}", address, why));
  }
  char bound[256] = {};
  size_t bound_size = sizeof(bound);
  zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, bound, &bound_size);
  std::string endpoint(bound);
  if (endpoint.rfind("tcp://", 0) == 0) endpoint = endpoint.substr(6);
  return std::unique_ptr<KvEventPublisher>(new KvEventPublisher(context, socket, endpoint, block_size));
}

KvEventPublisher::KvEventPublisher(void* context, void* socket, std::string endpoint, int block_size)
    : context_(context), socket_(socket), endpoint_(std::move(endpoint)), block_size_(block_size) {}

KvEventPublisher::~KvEventPublisher() {
  zmq_close(socket_);
  zmq_ctx_term(context_);
}

void KvEventPublisher::OnKvEvents(std::vector<BlockPoolEvent> pool_events) {
  // Runs of one kind become one event.
  std::vector<KvEvent> events;
  for (const BlockPoolEvent& e : pool_events) {
    const KvEvent::Kind kind = e.kind == BlockPoolEvent::Kind::kStored ? KvEvent::Kind::kStored : KvEvent::Kind::kRemoved;
    if (events.empty() || events.back().kind != kind) events.push_back({kind, {}});
    events.back().hashes.push_back(e.hash);
  }
  if (!events.empty()) Send(events);
}

void KvEventPublisher::Send(const std::vector<KvEvent>& events) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const KvEvent& e : events) {
      for (const BlockHash& h : e.hashes) {
        if (e.kind == KvEvent::Kind::kStored) {
          cached_.insert(h);
        } else {
          cached_.erase(h);
        }
      }
      if (e.kind == KvEvent::Kind::kAllCleared) cached_.clear();
    }
    seq = ++seq_;
  }
  const std::string seq_frame = EncodeKvEventSeq(seq);
  const std::string payload = EncodeKvEventPayload(UnixSeconds(), events, block_size_);
  zmq_send(socket_, kKvEventsTopic, std::strlen(kKvEventsTopic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send(socket_, seq_frame.data(), seq_frame.size(), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send(socket_, payload.data(), payload.size(), ZMQ_DONTWAIT);
}

std::string KvEventPublisher::SnapshotJson() const {
  nlohmann::json hashes = nlohmann::json::array();
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = seq_;
    for (const BlockHash& h : cached_) hashes.push_back(BlockHashHex(h));
  }
  return nlohmann::json{{"seq", seq}, {"block_size", block_size_}, {"hashes", hashes}}.dump();
}

uint64_t KvEventPublisher::seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_;
}

}  // namespace tf
