// One outgoing HTTP/1.1 call, fully asynchronous on a caller's io_context:
// resolve, connect under a connect deadline, send, then hand the response
// body to the caller as it arrives (a streamed SSE or watch body works the
// same as a short one), with an idle deadline between any two reads. The
// router talks to workers and to etcd with it; HttpFetch wraps it for
// callers on their own threads that want one whole response.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>

#include "base/status.h"

namespace tf {

struct HttpCallSpec {
  std::string host;  // a name or an address
  uint16_t port = 80;
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds idle_timeout{30000};  // for the send, and between any two reads
};

struct HttpCallCallbacks {
  // The response's status and headers (name, value) have arrived.
  std::function<void(int status, const std::vector<std::pair<std::string, std::string>>& headers)> on_header;
  // Body bytes as they arrive; returning false ends the call (on_done gets Ok).
  std::function<bool(std::string_view bytes)> on_body;
  // Called once: Ok when the body ended (or on_body stopped it), else why
  // not (Unavailable for connection failures, DeadlineExceeded-like
  // Unavailable "timeout" for deadlines, Aborted by Cancel).
  std::function<void(const Status& status)> on_done;
};

class HttpCall {
 public:
  virtual ~HttpCall() = default;
  // Ends the call; on_done runs with Unavailable("cancelled") unless it ran.
  // io thread only.
  virtual void Cancel() = 0;
  // Whether on_done has run.
  virtual bool done() const = 0;
};

// Starts a call; every callback runs on `io`'s thread.
std::shared_ptr<HttpCall> StartHttpCall(boost::asio::io_context* io, HttpCallSpec spec, HttpCallCallbacks callbacks);

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// One whole call on a private io_context, for threads that may block: fails
// with Unavailable on a connection failure, a timeout (`total_timeout` for
// all of it) or a body over `max_body_bytes`.
StatusOr<HttpResponse> HttpFetch(HttpCallSpec spec, std::chrono::milliseconds total_timeout,
                                 size_t max_body_bytes = 64 << 20);

// "host:port" (IPv6 in brackets) split; the port is required.
StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);
// "http://host:port[/...]" → host and port (80 when absent); only http.
StatusOr<std::pair<std::string, uint16_t>> ParseHttpUrl(std::string_view url);

}  // namespace tf
