#include "server/api_server.h"

#include <algorithm>
#include <openssl/evp.h>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "base/logging.h"
#include "server/bearer_auth.h"

namespace tf {
namespace {

using Json = nlohmann::json;
namespace http = boost::beast::http;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Delivers engine output to the stream on the io thread; a stream that is
// gone (client disconnected) simply drops it.
class PostingSink : public RequestSink {
 public:
  PostingSink(boost::asio::io_context* io, std::weak_ptr<GenerationStream> stream, int index)
      : io_(io), stream_(std::move(stream)), index_(index) {}
  void OnDelta(StreamDelta delta) override {
    boost::asio::post(*io_, [stream = stream_, index = index_, delta = std::move(delta)]() mutable {
      if (auto s = stream.lock()) s->OnDelta(index, std::move(delta));
    });
  }

 private:
  boost::asio::io_context* io_;
  std::weak_ptr<GenerationStream> stream_;
  int index_;
};

std::string MessageText(const nlohmann::ordered_json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string text;
  if (content.is_array()) {
    for (const auto& part : content) text += part["text"].get<std::string>();
  }
  return text;
}

// The client's X-Request-Id, used as the response id (ids are the client's
// business: the engine keys requests by its own handles, so an id may be
// reused at any time, e.g. by a retry after a disconnect).
std::variant<std::string, ApiError> ClientRequestId(const HttpRequest& req) {
  const auto it = req.find("X-Request-Id");
  if (it == req.end()) return std::string();
  const std::string id(it->value());
  const bool printable = std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (id.empty() || id.size() > 128 || !printable) {
    return ApiError(400, "X-Request-Id must be 1-128 printable ASCII characters without spaces");
  }
  return id;
}

}  // namespace

ApiServer::ApiServer(boost::asio::io_context* io, ApiServerOptions options)
    : io_(io), options_(std::move(options)),
      http_(io, options_.http, [this](std::shared_ptr<HttpExchange> ex) { Handle(std::move(ex)); }) {
  http_.set_status_observer([this](int status) { metrics_.RecordHttpStatus(status); });
  api_key_digest_ = Sha256(options_.api_key.data(), options_.api_key.size());
}

ApiServer::~ApiServer() = default;

void ApiServer::SendJson(HttpExchange& ex, int status, const Json& body) {
  ex.Respond(status, Dump(body), "application/json");
}

void ApiServer::SendError(HttpExchange& ex, const ApiError& error) {
  ex.Respond(error.status, Dump(error.ToJson()), "application/json", ApiErrorHeaders(error));
}

bool ApiServer::Authorized(const HttpExchange& ex) const {
  return options_.api_key.empty() || BearerKeyMatches(ex.request(), api_key_digest_);
}

void ApiServer::Handle(std::shared_ptr<HttpExchange> ex) {
  std::string path(ex->request().target());
  const size_t query = path.find('?');
  if (query != std::string::npos) path.resize(query);
  if (internal_handler_ && path.rfind("/internal/", 0) == 0) return internal_handler_(ex, path);
  if (path != "/health" && !Authorized(*ex)) {
    return SendError(*ex, ApiError{401, "invalid or missing API key (Authorization: Bearer ...)", "authentication_error",
                                   "", "invalid_api_key"});
  }
  Route(ex, path);
}

void ApiServer::Route(const std::shared_ptr<HttpExchange>& ex, const std::string& path) {
  const auto method = ex->request().method();
  auto expect = [&](http::verb verb) {
    if (method == verb) return true;
    SendError(*ex, ApiError{405, fmt::format("{} does not accept {}", path, std::string(ex->request().method_string())),
                            "invalid_request_error"});
    return false;
  };
  if (path == "/health") {
    if (expect(http::verb::get)) HandleHealth(*ex);
  } else if (path == "/metrics") {
    if (expect(http::verb::get)) HandleMetrics(*ex);
  } else if (path == "/v1/models") {
    if (expect(http::verb::get)) HandleModels(*ex);
  } else if (path == "/v1/chat/completions") {
    if (expect(http::verb::post)) HandleGeneration(ex, Endpoint::kChat);
  } else if (path == "/v1/completions") {
    if (expect(http::verb::post)) HandleGeneration(ex, Endpoint::kCompletion);
  } else {
    SendError(*ex, ApiError{404, fmt::format("no route for {}", path), "invalid_request_error", "", "not_found"});
  }
}

void ApiServer::HandleHealth(HttpExchange& ex) {
  if (backend_ == nullptr) return SendJson(ex, 503, {{"status", "loading"}});
  const BackendHealth health = backend_->Health();
  if (!health.ok) return SendJson(ex, 503, {{"status", "error"}, {"message", health.message}});
  if (draining_) return SendJson(ex, 503, {{"status", "shutting down"}});
  if (!health.degraded.empty()) return SendJson(ex, 200, {{"status", "degraded"}, {"message", health.degraded}});
  SendJson(ex, 200, {{"status", "ok"}});
}

void ApiServer::HandleModels(HttpExchange& ex) {
  if (backend_ == nullptr) return SendError(ex, ApiError{503, "the model is still loading", "server_error"});
  Json data = Json::array();
  for (const ServedModel* m : backend_->models()) {
    data.push_back({{"id", m->name},
                    {"object", "model"},
                    {"created", m->created_unix},
                    {"owned_by", "tokenfab"},
                    {"max_model_len", m->ctx_size}});
  }
  SendJson(ex, 200, {{"object", "list"}, {"data", data}});
}

void ApiServer::HandleMetrics(HttpExchange& ex) {
  std::optional<EngineStats> stats;
  if (backend_ != nullptr) stats = backend_->Stats();
  const bool alive = backend_ != nullptr && backend_->Health().ok;
  std::string text = metrics_.Render(stats ? &*stats : nullptr, alive);
  if (backend_ != nullptr) text += backend_->ExtraMetrics();
  ex.Respond(200, text, "text/plain; version=0.0.4");
}

StatusOr<const ServedModel*> ApiServer::FindModel(const std::string& name) const {
  const std::vector<const ServedModel*> models = backend_->models();
  if (models.empty()) return UnavailableError("no model is served");
  if (name.empty()) return models.front();
  std::string names;
  for (const ServedModel* m : models) {
    if (m->name == name) return m;
    names += (names.empty() ? "'" : ", '") + m->name + "'";
  }
  return NotFoundError(fmt::format("the model '{}' does not exist; this server serves {}", name, names))
      .WithParam("model")
      .WithReason("model_not_found");
}

StatusOr<std::vector<int32_t>> ApiServer::BuildPrompt(const ServedModel& model, const ApiRequest& request,
                                                      bool* starts_in_reasoning) const {
  if (request.endpoint != Endpoint::kChat) {
    if (request.prompt_is_tokens) return request.prompt_tokens;
    return model.tokenizer->Encode(request.prompt_text, /*add_special=*/true, /*parse_special=*/true);
  }
  if (model.chat_template == nullptr) {
    return InvalidArgumentError("this model has no chat template; use /v1/completions or --chat-template-file")
        .WithParam("messages");
  }
  const Vocab& vocab = model.tokenizer->vocab();
  ChatTemplateInputs in;
  for (const auto& m : request.messages) {
    nlohmann::ordered_json message = m;
    if (m.contains("content") && m["content"].is_array()) message["content"] = MessageText(m["content"]);
    in.messages.push_back(message);
  }
  in.tools = request.tools;
  in.add_generation_prompt = true;
  if (vocab.bos_id() >= 0) in.bos_token = vocab.token(vocab.bos_id()).text;
  if (vocab.eos_id() >= 0) in.eos_token = vocab.token(vocab.eos_id()).text;
  StatusOr<std::string> text = model.chat_template->Render(in);
  if (!text.ok()) {
    return InvalidArgumentError(fmt::format("the chat template refused the messages: {}", text.status().message()))
        .WithParam("messages");
  }
  const std::string trimmed = text->substr(0, text->find_last_not_of(" \r\n") + 1);
  *starts_in_reasoning = model.reasoning && trimmed.size() >= 7 && trimmed.compare(trimmed.size() - 7, 7, "<think>") == 0;
  // A template that writes BOS itself must not get a second one.
  const bool add_special = in.bos_token.empty() || text->rfind(in.bos_token, 0) != 0;
  return model.tokenizer->Encode(*text, add_special, /*parse_special=*/true);
}

// One backend request per choice; the backend checks each (the one place
// parameters are validated) and a refusal aborts the choices already queued.
Status ApiServer::Submit(const std::shared_ptr<GenerationStream>& stream, const ServedModel& model,
                         const ApiRequest& request, const std::vector<int32_t>& prompt) {
  const int64_t room = model.ctx_size - static_cast<int64_t>(prompt.size());
  const int64_t default_max = request.endpoint == Endpoint::kChat ? room : 16;
  for (int i = 0; i < request.n; ++i) {
    GenerationRequest g;
    g.prompt = prompt;
    g.sampling = request.sampling;
    if (request.sampling.seed) g.sampling.seed = *request.sampling.seed + static_cast<uint64_t>(i);
    // A max_tokens beyond the context is clamped to the room left, not refused.
    g.max_tokens = std::min(request.max_tokens.value_or(default_max), room);
    g.stop = request.stop;
    g.ignore_eos = request.ignore_eos;
    g.top_logprobs = request.logprobs ? request.top_logprobs : -1;
    g.json_object = request.json_object;
    g.sink = std::make_shared<PostingSink>(io_, stream, i);
    StatusOr<uint64_t> handle = backend_->Submit(model, std::move(g));
    if (!handle.ok()) {
      stream->AbortAll();
      return handle.status().WithParam(request.ParamName(handle.status().param()));
    }
    stream->AddHandle(*handle);
  }
  return Status::Ok();
}

void ApiServer::HandleGeneration(const std::shared_ptr<HttpExchange>& ex, Endpoint endpoint) {
  const auto arrival = std::chrono::steady_clock::now();
  auto reject = [&](const Status& s) {
    metrics_.RecordOutcome("rejected");
    SendError(*ex, ApiErrorFromStatus(s));
  };
  if (backend_ == nullptr) return reject(UnavailableError("the model is still loading"));
  if (draining_) return reject(UnavailableError("the server is shutting down"));
  if (const BackendHealth health = backend_->Health(); !health.ok) return reject(UnavailableError(health.message));
  StatusOr<ApiRequest> parsed = ParseApiRequest(endpoint, ex->request().body(), options_.parse);
  if (!parsed.ok()) return reject(parsed.status());
  const ApiRequest& request = *parsed;
  StatusOr<const ServedModel*> model = FindModel(request.model);
  if (!model.ok()) return reject(model.status());
  bool starts_in_reasoning = false;
  StatusOr<std::vector<int32_t>> tokens = BuildPrompt(**model, request, &starts_in_reasoning);
  if (!tokens.ok()) return reject(tokens.status());
  auto request_id = ClientRequestId(ex->request());
  if (auto* e = std::get_if<ApiError>(&request_id)) {
    metrics_.RecordOutcome("rejected");
    return SendError(*ex, *e);
  }
  auto stream = std::make_shared<GenerationStream>(ex, request, **model, backend_, &metrics_,
                                                   static_cast<int64_t>(tokens->size()), starts_in_reasoning, arrival,
                                                   std::get<std::string>(request_id));
  if (Status s = Submit(stream, **model, request, *tokens); !s.ok()) return reject(s);
  in_flight_.emplace(stream.get(), stream);
  stream->set_on_done([this, raw = stream.get()] {
    // Deferred: the stream is still on the call stack.
    boost::asio::post(*io_, [this, raw] {
      in_flight_.erase(raw);
      CheckDrained();
    });
  });
  ex->OnClientGone([this, weak = std::weak_ptr<GenerationStream>(stream)] {
    if (auto s = weak.lock()) {
      s->AbortAll();
      // Keep it until the engine confirms the aborts, so blocks are released.
    }
  });
  stream->Start();
}

void ApiServer::Shutdown(std::chrono::milliseconds timeout, std::function<void()> done) {
  draining_ = true;
  on_drained_ = std::move(done);
  drain_deadline_ = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(2);
  http_.StopAccepting();
  drain_timer_ = std::make_unique<boost::asio::steady_timer>(*io_, timeout);
  drain_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    TF_LOG_WARN("shutdown: {} requests still running after the timeout; aborting them", in_flight_.size());
    for (auto& [raw, stream] : in_flight_) stream->AbortAll();
  });
  CheckDrained();
}

void ApiServer::CheckDrained() {
  if (!draining_ || !in_flight_.empty() || !on_drained_) return;
  // Responses still being written (bounded by the drain deadline's grace).
  if (http_.num_busy() > 0 && std::chrono::steady_clock::now() < drain_deadline_) {
    flush_timer_ = std::make_unique<boost::asio::steady_timer>(*io_, std::chrono::milliseconds(20));
    flush_timer_->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) CheckDrained();
    });
    return;
  }
  if (drain_timer_) drain_timer_->cancel();
  auto done = std::move(on_drained_);
  on_drained_ = nullptr;
  done();
}

}  // namespace tf
