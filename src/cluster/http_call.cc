#include "cluster/http_call.h"

#include <charconv>
#include <limits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace tf {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Call final : public HttpCall, public std::enable_shared_from_this<Call> {
 public:
  Call(net::io_context* io, HttpCallSpec spec, HttpCallCallbacks callbacks)
      : resolver_(*io), stream_(*io), spec_(std::move(spec)), cb_(std::move(callbacks)) {}

  void Start() {
    stream_.expires_after(spec_.connect_timeout);
    boost::system::error_code ec;
    const net::ip::address address = net::ip::make_address(spec_.host, ec);
    if (!ec) {
      const tcp::endpoint endpoint(address, spec_.port);
      stream_.async_connect(endpoint, [self = shared_from_this()](beast::error_code e) { self->OnConnect(e); });
      return;
    }
    resolver_.async_resolve(spec_.host, std::to_string(spec_.port),
                            [self = shared_from_this()](beast::error_code e, tcp::resolver::results_type results) {
                              if (e) return self->Fail("resolve", e);
                              self->stream_.async_connect(
                                  results, [self](beast::error_code e2, const tcp::endpoint&) { self->OnConnect(e2); });
                            });
  }

  void Cancel() override {
    if (done_) return;
    Finish(UnavailableError(fmt::format("{}:{}{}: cancelled", spec_.host, spec_.port, spec_.target)));
  }
  bool done() const override { return done_; }

 private:
  void OnConnect(beast::error_code ec) {
    if (done_) return;
    if (ec) return Fail("connect", ec);
    request_.method(spec_.method);
    request_.target(spec_.target);
    request_.version(11);
    request_.set(http::field::host, fmt::format("{}:{}", spec_.host, spec_.port));
    for (const auto& [name, value] : spec_.headers) request_.set(name, value);
    if (!spec_.body.empty() || spec_.method == http::verb::post || spec_.method == http::verb::put) {
      request_.set(http::field::content_type, spec_.content_type);
      request_.body() = spec_.body;
    }
    request_.keep_alive(false);
    request_.prepare_payload();
    stream_.expires_after(spec_.idle_timeout);
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code e, size_t) {
      if (self->done_) return;
      if (e) return self->Fail("send", e);
      self->ReadHeader();
    });
  }

  void ReadHeader() {
    // A finite limit: Boost 1.74 compares boost::none wrongly.
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.header_limit(64 * 1024);
    stream_.expires_after(spec_.idle_timeout);
    http::async_read_header(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code e, size_t) {
      if (self->done_) return;
      if (e) return self->Fail("read", e);
      std::vector<std::pair<std::string, std::string>> headers;
      for (const auto& field : self->parser_.get()) {
        headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      if (self->cb_.on_header) self->cb_.on_header(self->parser_.get().result_int(), headers);
      if (!self->done_) self->ReadBody();
    });
  }

  void ReadBody() {
    if (parser_.is_done()) return Finish(Status::Ok());
    parser_.get().body().data = chunk_;
    parser_.get().body().size = sizeof(chunk_);
    stream_.expires_after(spec_.idle_timeout);
    http::async_read_some(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code e, size_t) {
      if (self->done_) return;
      const size_t got = sizeof(self->chunk_) - self->parser_.get().body().size;
      if (e == http::error::need_buffer) e = {};
      if (got > 0 && self->cb_.on_body && !self->cb_.on_body(std::string_view(self->chunk_, got))) {
        return self->Finish(Status::Ok());
      }
      if (self->done_) return;
      if (e == http::error::end_of_stream && self->parser_.is_done()) return self->Finish(Status::Ok());
      if (e) return self->Fail("read", e);
      self->ReadBody();
    });
  }

  void Fail(const char* stage, beast::error_code ec) {
    const std::string why = ec == beast::error::timeout ? "timeout" : ec.message();
    Finish(UnavailableError(fmt::format("{}:{}{}: {} failed: {}", spec_.host, spec_.port, spec_.target, stage, why)));
  }

  void Finish(const Status& status) {
    if (done_) return;
    done_ = true;
    beast::error_code ignored;
    resolver_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    auto on_done = std::move(cb_.on_done);
    cb_ = {};
    if (on_done) on_done(status);
  }

  tcp::resolver resolver_;
  beast::tcp_stream stream_;
  HttpCallSpec spec_;
  HttpCallCallbacks cb_;
  http::request<http::string_body> request_;
  http::response_parser<http::buffer_body> parser_;
  beast::flat_buffer buffer_;
  char chunk_[16384];
  bool done_ = false;
};

}  // namespace

std::shared_ptr<HttpCall> StartHttpCall(net::io_context* io, HttpCallSpec spec, HttpCallCallbacks callbacks) {
  auto call = std::make_shared<Call>(io, std::move(spec), std::move(callbacks));
  call->Start();
  return call;
}

StatusOr<HttpResponse> HttpFetch(HttpCallSpec spec, std::chrono::milliseconds total_timeout, size_t max_body_bytes) {
  net::io_context io(1);
  HttpResponse response;
  Status result = Status::Ok();  // the oversize refusal, else what on_done reports
  bool finished = false;
  const std::string what = fmt::format("{}:{}{}", spec.host, spec.port, spec.target);
  HttpCallCallbacks cb;
  cb.on_header = [&](int status, const auto& headers) {
    response.status = status;
    response.headers = headers;
  };
  cb.on_body = [&](std::string_view bytes) {
    if (response.body.size() + bytes.size() > max_body_bytes) {
      result = UnavailableError(fmt::format("{}: the response is over {} bytes", what, max_body_bytes));
      return false;
    }
    response.body.append(bytes);
    return true;
  };
  cb.on_done = [&](const Status& s) {
    if (result.ok()) result = s;
    finished = true;
  };
  std::shared_ptr<HttpCall> call = StartHttpCall(&io, std::move(spec), std::move(cb));
  io.run_for(total_timeout);
  if (!finished) {
    call->Cancel();
    result = UnavailableError(fmt::format("{}: timeout after {} ms", what, total_timeout.count()));
  }
  io.restart();
  io.poll();  // lets cancelled handlers run before the context goes
  TF_RETURN_IF_ERROR(result);
  return response;
}

StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentError(fmt::format("'{}' is not [ipv6]:port", text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return InvalidArgumentError(fmt::format("'{}' has no :port", text));
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return InvalidArgumentError(fmt::format("'{}' is not host:port with a port in 1-65535", text));
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(value));
}

StatusOr<std::pair<std::string, uint16_t>> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return InvalidArgumentError(fmt::format("'{}' is not an http:// URL", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (rest.find(':') == std::string_view::npos || (rest.front() == '[' && rest.back() == ']')) {
    return ParseHostPort(std::string(rest) + ":80");
  }
  return ParseHostPort(rest);
}

}  // namespace tf
