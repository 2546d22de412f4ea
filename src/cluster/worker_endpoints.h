// The routes a worker serves to routers under /internal/: POST
// /internal/v1/generate (a request as token ids, streamed back as SSE
// deltas carrying token ids and sampler draws; see worker_protocol.h) and
// GET /internal/v1/kv_blocks (the snapshot of its cached block hashes a
// router starts from). With a cluster key every call must carry a valid
// X-Tokenfab-Auth; without one, the API key (when set) as a Bearer token.
// Runs on the server's io thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "base/sha256.h"
#include "cluster/cluster_key.h"
#include "server/generation_backend.h"
#include "server/http_server.h"

namespace tf {

class KvEventPublisher;

class WorkerEndpoints {
 public:
  WorkerEndpoints(boost::asio::io_context* io, std::optional<ClusterKey> key, std::string api_key);
  // Both may be set later (the model loads after the server listens);
  // io thread.
  void SetBackend(GenerationBackend* backend) { backend_ = backend; }
  void SetKvEvents(const KvEventPublisher* events) { kv_events_ = events; }
  void Handle(const std::shared_ptr<HttpExchange>& ex, const std::string& path);
  int64_t num_in_flight() const { return num_in_flight_; }

 private:
  Status Authorize(const HttpExchange& ex) const;
  void HandleGenerate(const std::shared_ptr<HttpExchange>& ex);
  void HandleKvBlocks(HttpExchange& ex);
  void SendError(HttpExchange& ex, const Status& status);

  boost::asio::io_context* io_;
  std::optional<ClusterKey> key_;
  std::string api_key_;
  Sha256Digest api_key_digest_;
  GenerationBackend* backend_ = nullptr;
  const KvEventPublisher* kv_events_ = nullptr;
  int64_t num_in_flight_ = 0;
};

}  // namespace tf
