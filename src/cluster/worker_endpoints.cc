#include "cluster/worker_endpoints.h"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "base/logging.h"
#include "cluster/kv_event_publisher.h"
#include "cluster/worker_protocol.h"
#include "server/api_error.h"
#include "server/bearer_auth.h"

namespace tf {
namespace {

namespace http = boost::beast::http;

// One internal generation: engine deltas posted to the io thread and
// written as SSE events.
class InternalStream : public RequestSink, public std::enable_shared_from_this<InternalStream> {
 public:
  InternalStream(boost::asio::io_context* io, std::shared_ptr<HttpExchange> ex, int64_t* num_in_flight)
      : io_(io), ex_(std::move(ex)), num_in_flight_(num_in_flight) {}
  void OnDelta(StreamDelta delta) override {
    boost::asio::post(*io_, [self = shared_from_this(), delta = std::move(delta)] { self->Write(delta); });
  }

 private:
  void Write(const StreamDelta& delta) {
    if (finished_) return;
    if (!ex_->client_gone()) ex_->SendChunk("data: " + StreamDeltaToJson(delta) + "\n\n");
    if (delta.finished) {
      finished_ = true;
      --*num_in_flight_;
      if (!ex_->client_gone()) ex_->EndStream();
      ex_.reset();
    }
  }

  boost::asio::io_context* io_;
  std::shared_ptr<HttpExchange> ex_;
  int64_t* num_in_flight_;
  bool finished_ = false;
};

}  // namespace

WorkerEndpoints::WorkerEndpoints(boost::asio::io_context* io, std::optional<ClusterKey> key, std::string api_key)
    : io_(io), key_(std::move(key)), api_key_(std::move(api_key)),
      api_key_digest_(Sha256(api_key_.data(), api_key_.size())) {}

Status WorkerEndpoints::Authorize(const HttpExchange& ex) const {
  const HttpRequest& req = ex.request();
  if (key_) {
    const auto it = req.find(kClusterAuthHeader);
    if (it == req.end()) return InvalidArgumentError(fmt::format("no {} header (this worker has a cluster key)", kClusterAuthHeader));
    return key_->CheckAuthHeaderValue(std::string_view(it->value().data(), it->value().size()),
                                      std::string_view(req.method_string().data(), req.method_string().size()),
                                      std::string_view(req.target().data(), req.target().size()), req.body(),
                                      UnixNowSeconds());
  }
  if (api_key_.empty() || BearerKeyMatches(req, api_key_digest_)) return Status::Ok();
  return InvalidArgumentError("invalid or missing API key");
}

void WorkerEndpoints::SendError(HttpExchange& ex, const Status& status) {
  const ApiError e = ApiErrorFromStatus(status);
  ex.Respond(e.status, e.ToJson().dump(), "application/json", ApiErrorHeaders(e));
}

void WorkerEndpoints::Handle(const std::shared_ptr<HttpExchange>& ex, const std::string& path) {
  if (Status auth = Authorize(*ex); !auth.ok()) {
    TF_LOG_WARN("internal call {} refused: {}", path, auth.message());
    ApiError e(401, "internal call refused: " + auth.message(), "authentication_error");
    return ex->Respond(401, e.ToJson().dump(), "application/json");
  }
  const auto method = ex->request().method();
  if (path == kInternalGeneratePath && method == http::verb::post) return HandleGenerate(ex);
  if (path == kInternalKvBlocksPath && method == http::verb::get) return HandleKvBlocks(*ex);
  SendError(*ex, NotFoundError(fmt::format("no internal route {} {}", std::string(ex->request().method_string()), path)));
}

void WorkerEndpoints::HandleGenerate(const std::shared_ptr<HttpExchange>& ex) {
  if (backend_ == nullptr) return SendError(*ex, UnavailableError("the model is still loading"));
  if (const BackendHealth h = backend_->Health(); !h.ok) return SendError(*ex, UnavailableError(h.message));
  StatusOr<WorkerGenerateRequest> parsed = ParseWorkerGenerateRequest(ex->request().body(), size_t{1} << 24);
  if (!parsed.ok()) return SendError(*ex, parsed.status());
  const ServedModel* model = nullptr;
  for (const ServedModel* m : backend_->models()) {
    if (m->name == parsed->model) model = m;
  }
  if (model == nullptr) return SendError(*ex, NotFoundError(fmt::format("model '{}' is not served here", parsed->model)));
  auto stream = std::make_shared<InternalStream>(io_, ex, &num_in_flight_);
  parsed->generation.sink = stream;
  StatusOr<uint64_t> handle = backend_->Submit(*model, std::move(parsed->generation));
  if (!handle.ok()) return SendError(*ex, handle.status());
  ++num_in_flight_;
  ex->StartStream(200, "text/event-stream");
  ex->OnClientGone([backend = backend_, h = *handle] { backend->Abort(h); });
}

void WorkerEndpoints::HandleKvBlocks(HttpExchange& ex) {
  if (kv_events_ == nullptr) return SendError(ex, UnavailableError("this worker publishes no KV events"));
  ex.Respond(200, kv_events_->SnapshotJson(), "application/json");
}

}  // namespace tf
