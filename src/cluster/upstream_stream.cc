#include "cluster/upstream_stream.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/worker_protocol.h"

namespace tf {
namespace {
constexpr size_t kMaxEventBytes = 4 << 20;
}

std::shared_ptr<UpstreamStream> UpstreamStream::Start(boost::asio::io_context* io, HttpCallSpec spec,
                                                      UpstreamCallbacks callbacks) {
  std::shared_ptr<UpstreamStream> s(new UpstreamStream(std::move(callbacks)));
  std::weak_ptr<UpstreamStream> weak = s;
  HttpCallCallbacks cb;
  cb.on_header = [weak](int status, const auto&) {
    if (auto self = weak.lock()) {
      self->http_status_ = status;
      self->last_byte_ = std::chrono::steady_clock::now();
    }
  };
  cb.on_body = [weak](std::string_view bytes) {
    auto self = weak.lock();
    return self && self->OnBytes(bytes);
  };
  cb.on_done = [weak](const Status& status) {
    if (auto self = weak.lock()) self->OnDone(status);
  };
  s->call_ = StartHttpCall(io, std::move(spec), std::move(cb));
  return s;
}

void UpstreamStream::Cancel() {
  ended_ = true;
  cb_ = {};
  if (call_) call_->Cancel();
}

bool UpstreamStream::OnBytes(std::string_view bytes) {
  if (ended_) return false;
  last_byte_ = std::chrono::steady_clock::now();
  if (http_status_ != 200) {
    if (error_body_.size() < 4096) error_body_.append(bytes.substr(0, 4096 - error_body_.size()));
    return true;
  }
  pending_.append(bytes);
  size_t end;
  while ((end = pending_.find("\n\n")) != std::string::npos) {
    const std::string event = pending_.substr(0, end);
    pending_.erase(0, end + 2);
    if (!OnEvent(event)) return false;
  }
  if (pending_.size() > kMaxEventBytes) {
    Fail(0, DataLossError("a worker's SSE event is over 4 MiB"));
    return false;
  }
  return true;
}

bool UpstreamStream::OnEvent(std::string_view event) {
  if (event.rfind("data: ", 0) != 0) return true;
  StatusOr<StreamDelta> delta = ParseStreamDelta(std::string(event.substr(6)));
  if (!delta.ok()) {
    Fail(0, delta.status());
    return false;
  }
  const bool finished = delta->finished;
  if (finished) ended_ = true;
  auto on_delta = cb_.on_delta;  // the callback may cancel us
  if (on_delta) on_delta(std::move(*delta));
  return !finished;
}

void UpstreamStream::OnDone(const Status& status) {
  if (ended_) return;
  if (http_status_ != 0 && http_status_ != 200) {
    std::string message = error_body_;
    const nlohmann::json j = nlohmann::json::parse(error_body_, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_object() && j["error"].contains("message") &&
        j["error"]["message"].is_string()) {
      message = j["error"]["message"].get<std::string>();
    }
    return Fail(http_status_, UnavailableError(fmt::format("worker answered HTTP {}: {}", http_status_, message)));
  }
  if (!status.ok()) return Fail(0, status);
  Fail(0, UnavailableError("the worker's stream ended before its final event"));
}

void UpstreamStream::Fail(int http_status, const Status& why) {
  if (ended_) return;
  ended_ = true;
  auto on_failed = std::move(cb_.on_failed);
  cb_ = {};
  if (on_failed) on_failed(http_status, why);
}

}  // namespace tf
