// The OpenAI-compatible API: routes, authentication, model selection by
// name, prompt building (chat templates, tokenization), hand-off to a
// generation backend (an in-process engine, or a router over workers),
// health, metrics and graceful shutdown. Runs on the io thread. Requests
// are checked once, by the backend's Submit; its Status becomes OpenAI's
// error shape in one place (ApiErrorFromStatus).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/sha256.h"
#include "server/api_error.h"
#include "server/generation_backend.h"
#include "server/generation_stream.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/served_model.h"

namespace tf {

struct ApiServerOptions {
  std::string api_key;  // empty: no authentication
  HttpLimits http;
  ParseLimits parse;
};

class ApiServer {
 public:
  ApiServer(boost::asio::io_context* io, ApiServerOptions options);
  ~ApiServer();

  Status Listen(const std::string& host, uint16_t port) { return http_.Listen(host, port); }
  uint16_t port() const { return http_.port(); }
  // The models are ready (until then /health answers 503 "loading"). io
  // thread; `backend` must outlive the server's use of it.
  void SetBackend(GenerationBackend* backend) { backend_ = backend; }
  // Paths under /internal/ (a worker's routes for routers) go to `handler`,
  // which does its own authentication. Without one they are 404.
  using InternalHandler = std::function<void(const std::shared_ptr<HttpExchange>&, const std::string& path)>;
  void SetInternalHandler(InternalHandler handler) { internal_handler_ = std::move(handler); }
  // Stops accepting, lets in-flight requests finish for `timeout`, aborts
  // what is left, then calls `done` (io thread).
  void Shutdown(std::chrono::milliseconds timeout, std::function<void()> done);
  int64_t num_in_flight() const { return static_cast<int64_t>(in_flight_.size()); }
  int64_t num_connections() const { return http_.num_connections(); }

 private:
  void Handle(std::shared_ptr<HttpExchange> ex);
  void Route(const std::shared_ptr<HttpExchange>& ex, const std::string& path);
  bool Authorized(const HttpExchange& ex) const;
  void SendError(HttpExchange& ex, const ApiError& error);
  void SendJson(HttpExchange& ex, int status, const nlohmann::json& body);
  void HandleHealth(HttpExchange& ex);
  void HandleModels(HttpExchange& ex);
  void HandleMetrics(HttpExchange& ex);
  void HandleGeneration(const std::shared_ptr<HttpExchange>& ex, Endpoint endpoint);
  // The served model a request names (the default one when it names none).
  StatusOr<const ServedModel*> FindModel(const std::string& name) const;
  // The prompt's tokens, or an error naming the param.
  StatusOr<std::vector<int32_t>> BuildPrompt(const ServedModel& model, const ApiRequest& request,
                                             bool* starts_in_reasoning) const;
  Status Submit(const std::shared_ptr<GenerationStream>& stream, const ServedModel& model, const ApiRequest& request,
                const std::vector<int32_t>& prompt);
  void CheckDrained();

  boost::asio::io_context* io_;
  ApiServerOptions options_;
  Sha256Digest api_key_digest_{};  // of options_.api_key, computed once
  HttpServer http_;
  ServerMetrics metrics_;
  GenerationBackend* backend_ = nullptr;
  InternalHandler internal_handler_;
  std::unordered_map<GenerationStream*, std::shared_ptr<GenerationStream>> in_flight_;
  bool draining_ = false;
  std::function<void()> on_drained_;
  std::unique_ptr<boost::asio::steady_timer> drain_timer_;
  std::unique_ptr<boost::asio::steady_timer> flush_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
};

}  // namespace tf
