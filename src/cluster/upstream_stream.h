// One call from the router to a worker's /internal/v1/generate: the SSE
// reply parsed into StreamDeltas as they arrive. It ends in exactly one of:
// a final delta (on_delta with finished), or on_failed, with the worker's
// HTTP status when it refused the request (0 when the connection failed,
// timed out, or the stream ended or broke before its final delta).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "cluster/http_call.h"
#include "engine/generation.h"

namespace tf {

struct UpstreamCallbacks {
  std::function<void(StreamDelta delta)> on_delta;
  std::function<void(int http_status, const Status& why)> on_failed;
};

class UpstreamStream : public std::enable_shared_from_this<UpstreamStream> {
 public:
  static std::shared_ptr<UpstreamStream> Start(boost::asio::io_context* io, HttpCallSpec spec, UpstreamCallbacks callbacks);
  // Ends the call without calling back.
  void Cancel();
  std::chrono::steady_clock::time_point last_byte() const { return last_byte_; }

 private:
  explicit UpstreamStream(UpstreamCallbacks callbacks) : cb_(std::move(callbacks)) {}
  bool OnBytes(std::string_view bytes);
  bool OnEvent(std::string_view event);
  void OnDone(const Status& status);
  void Fail(int http_status, const Status& why);

  UpstreamCallbacks cb_;
  std::shared_ptr<HttpCall> call_;
  int http_status_ = 0;
  std::string pending_;
  std::string error_body_;
  bool ended_ = false;
  std::chrono::steady_clock::time_point last_byte_ = std::chrono::steady_clock::now();
};

}  // namespace tf
