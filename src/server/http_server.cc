#include "server/http_server.h"

#include <deque>
#include <sstream>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <fmt/format.h>

#include "base/logging.h"

namespace tf {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Errors found before a request reaches the API (messages are ours, no
// client text, so no JSON escaping is needed).
std::string PlainError(int status, const std::string& message) {
  return fmt::format(R"({{"error":{{"message":"{}","type":"invalid_request_error","param":null,"code":{}}}}})",
                     message, status);
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpLimits& limits, const HttpHandler& handler,
          const std::function<void(int)>& status_observer, std::shared_ptr<std::atomic<int64_t>> counter,
          std::shared_ptr<std::atomic<int64_t>> busy)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), limits_(limits), handler_(handler), status_observer_(status_observer),
        counter_(std::move(counter)), busy_counter_(std::move(busy)) {
    ++*counter_;
  }
  ~Session() {
    SetBusy(false);
    --*counter_;
  }

  void Start() { ReadHeader(); }

  // Exchange operations (io thread).
  const HttpRequest& request() const { return request_; }
  void Respond(int status, std::string body, const std::string& content_type,
               const std::vector<std::pair<std::string, std::string>>& headers);
  void StartStream(int status, const std::string& content_type);
  void SendChunk(std::string data);
  void EndStream();
  void OnClientGone(std::function<void()> cb) { gone_callback_ = std::move(cb); }
  bool client_gone() const { return gone_; }

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Watch();
  void ClientGone();
  void MaybeReadNext();
  void FailRequest(int status, const std::string& message);
  void Write(std::shared_ptr<std::string> data);
  void WriteNext();
  void OnExchangeDone();
  void Close();
  // Busy: from a complete request until its response is fully written.
  void SetBusy(bool busy) {
    if (busy != busy_) *busy_counter_ += busy ? 1 : -1;
    busy_ = busy;
  }

  beast::tcp_stream stream_;
  // Our own read deadline (not the stream's, which would close the socket
  // before the 408 could be written).
  net::steady_timer timer_;
  bool timed_out_ = false;
  const HttpLimits& limits_;
  const HttpHandler& handler_;
  const std::function<void(int)>& status_observer_;
  std::shared_ptr<std::atomic<int64_t>> counter_;
  std::shared_ptr<std::atomic<int64_t>> busy_counter_;
  bool busy_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  bool keep_alive_ = false;
  bool watching_ = false;
  bool exchange_done_ = false;
  bool gone_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::deque<std::shared_ptr<std::string>> out_queue_;
  std::function<void()> gone_callback_;
};

class Exchange : public HttpExchange {
 public:
  explicit Exchange(std::shared_ptr<Session> s) : s_(std::move(s)) {}
  const HttpRequest& request() const override { return s_->request(); }
  void Respond(int status, std::string body, const std::string& content_type,
               const std::vector<std::pair<std::string, std::string>>& headers) override {
    s_->Respond(status, std::move(body), content_type, headers);
  }
  void StartStream(int status, const std::string& content_type) override { s_->StartStream(status, content_type); }
  void SendChunk(std::string data) override { s_->SendChunk(std::move(data)); }
  void EndStream() override { s_->EndStream(); }
  void OnClientGone(std::function<void()> cb) override { s_->OnClientGone(std::move(cb)); }
  bool client_gone() const override { return s_->client_gone(); }

 private:
  std::shared_ptr<Session> s_;
};

void Session::ReadHeader() {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(limits_.max_body_bytes);
  timed_out_ = false;
  timer_.expires_after(limits_.read_timeout);
  timer_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->timed_out_ = true;
    beast::error_code ignored;
    self->stream_.socket().cancel(ignored);
  });
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset) return Close();
  if (timed_out_) return FailRequest(408, "timed out reading the request");
  if (ec == http::error::body_limit) return FailRequest(413, "request body too large");
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return FailRequest(431, "request header fields too large");
  }
  if (ec) return FailRequest(400, "malformed HTTP request (" + ec.message() + ")");
  const auto length = parser_->content_length();
  if (length.has_value() && *length > limits_.max_body_bytes) {
    return FailRequest(413, fmt::format("request body of {} bytes exceeds the limit of {}", *length, limits_.max_body_bytes));
  }
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    net::async_write(stream_, net::buffer(*cont), [cont](beast::error_code, size_t) {});
  }
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec2, size_t) { self->OnBody(ec2); });
}

void Session::OnBody(beast::error_code ec) {
  if (timed_out_) return FailRequest(408, "timed out reading the request body");
  if (ec == http::error::body_limit) return FailRequest(413, "request body too large");
  if (ec) return FailRequest(400, "malformed HTTP request body");
  timer_.cancel();
  request_ = parser_->release();
  keep_alive_ = request_.keep_alive();
  exchange_done_ = false;
  SetBusy(true);
  gone_callback_ = nullptr;
  Watch();
  handler_(std::make_shared<Exchange>(shared_from_this()));
}

// Reads while the handler works, so a disconnect is noticed at once. Bytes
// that arrive (a pipelined request) stay in the buffer for the next parse.
void Session::Watch() {
  watching_ = true;
  stream_.socket().async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->watching_ = false;
    if (!ec) {
      self->buffer_.commit(n);
      if (self->buffer_.size() > self->limits_.max_header_bytes + self->limits_.max_body_bytes) return self->ClientGone();
      if (!self->exchange_done_) return self->Watch();
      return self->MaybeReadNext();
    }
    if (!self->exchange_done_) return self->ClientGone();
    if (ec == net::error::operation_aborted) return self->MaybeReadNext();
    self->Close();
  });
}

// After a response: once it is written and the watch read has returned,
// read the next request (keep-alive) or close.
void Session::MaybeReadNext() {
  if (closed_ || writing_ || watching_ || !exchange_done_) return;
  exchange_done_ = false;
  SetBusy(false);
  if (keep_alive_) ReadHeader();
  else Close();
}

void Session::ClientGone() {
  if (gone_) return;
  gone_ = true;
  if (gone_callback_) {
    auto cb = std::move(gone_callback_);
    gone_callback_ = nullptr;
    cb();
  }
  Close();
}

void Session::FailRequest(int status, const std::string& message) {
  timer_.cancel();
  if (status_observer_) status_observer_(status);
  auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), 11);
  res->set(http::field::content_type, "application/json");
  res->set(http::field::connection, "close");
  res->body() = PlainError(status, message);
  res->prepare_payload();
  stream_.expires_after(std::chrono::seconds(5));
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) { self->Close(); });
}

void Session::Respond(int status, std::string body, const std::string& content_type,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  if (gone_ || closed_) return;
  if (status_observer_) status_observer_(status);
  http::response<http::string_body> res(static_cast<http::status>(status), 11);
  res.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) res.set(name, value);
  res.keep_alive(keep_alive_);
  res.body() = std::move(body);
  res.prepare_payload();
  std::ostringstream os;
  os << res;
  Write(std::make_shared<std::string>(os.str()));
  OnExchangeDone();
}

void Session::StartStream(int status, const std::string& content_type) {
  if (gone_ || closed_) return;
  if (status_observer_) status_observer_(status);
  http::response<http::empty_body> res(static_cast<http::status>(status), 11);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache");
  res.keep_alive(keep_alive_);
  res.chunked(true);
  std::ostringstream os;
  os << res.base();
  Write(std::make_shared<std::string>(os.str()));
}

void Session::SendChunk(std::string data) {
  if (gone_ || closed_ || data.empty()) return;
  Write(std::make_shared<std::string>(fmt::format("{:x}\r\n{}\r\n", data.size(), data)));
}

void Session::EndStream() {
  if (gone_ || closed_) return;
  Write(std::make_shared<std::string>("0\r\n\r\n"));
  OnExchangeDone();
}

void Session::Write(std::shared_ptr<std::string> data) {
  out_queue_.push_back(std::move(data));
  if (!writing_) WriteNext();
}

void Session::WriteNext() {
  if (out_queue_.empty()) {
    writing_ = false;
    // Everything written: now the watch read can hand over to the next request.
    if (exchange_done_ && watching_) {
      beast::error_code ec;
      stream_.socket().cancel(ec);
    }
    MaybeReadNext();
    return;
  }
  writing_ = true;
  auto data = out_queue_.front();
  out_queue_.pop_front();
  net::async_write(stream_, net::buffer(*data), [self = shared_from_this(), data](beast::error_code ec, size_t) {
    if (ec) return self->ClientGone();
    self->WriteNext();
  });
}

void Session::OnExchangeDone() {
  exchange_done_ = true;
  gone_callback_ = nullptr;
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  SetBusy(false);
  timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

}  // namespace

HttpServer::HttpServer(net::io_context* io, HttpLimits limits, HttpHandler handler)
    : io_(io), limits_(limits), handler_(std::move(handler)), acceptor_(*io),
      num_connections_(std::make_shared<std::atomic<int64_t>>(0)),
      num_busy_(std::make_shared<std::atomic<int64_t>>(0)) {}

HttpServer::~HttpServer() { StopAccepting(); }

Status HttpServer::Listen(const std::string& host, uint16_t port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return InvalidArgumentError(fmt::format("--host {}: not an IP address", host));
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return UnavailableError(fmt::format("cannot listen on {}:{}: {}", host, port, ec.message()));
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return Status::Ok();
}

void HttpServer::StopAccepting() {
  beast::error_code ec;
  acceptor_.close(ec);
}

void HttpServer::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), limits_, handler_, status_observer_, num_connections_, num_busy_)->Start();
    } else if (ec == net::error::no_descriptors) {
      TF_LOG_WARN("http: out of file descriptors; connection refused");
    }
    Accept();
  });
}

}  // namespace tf
