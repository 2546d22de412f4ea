// Asynchronous HTTP/1.1 on Boost.Beast: one io_context thread serves every
// connection (no thread per connection), with header and body size limits
// (431, 413 before the body is read), a read timeout for each request
// (slowloris gets 408 and a closed socket), keep-alive, chunked streaming
// and notice when a client goes away mid-request.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "base/status.h"

namespace tf {

struct HttpLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 8 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{30000};  // per request, header and body together
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// One request and its response. Every method runs on the io thread.
class HttpExchange {
 public:
  virtual ~HttpExchange() = default;
  virtual const HttpRequest& request() const = 0;
  // A whole response. `headers` are extra (name, value) pairs.
  virtual void Respond(int status, std::string body, const std::string& content_type,
                       const std::vector<std::pair<std::string, std::string>>& headers = {}) = 0;
  // A chunked response: the header now, then any number of chunks, then End.
  virtual void StartStream(int status, const std::string& content_type) = 0;
  virtual void SendChunk(std::string data) = 0;
  virtual void EndStream() = 0;
  // Called once if the client disconnects before the response is complete.
  virtual void OnClientGone(std::function<void()> callback) = 0;
  virtual bool client_gone() const = 0;
};

using HttpHandler = std::function<void(std::shared_ptr<HttpExchange>)>;

class HttpServer {
 public:
  HttpServer(boost::asio::io_context* io, HttpLimits limits, HttpHandler handler);
  ~HttpServer();
  // Binds and starts accepting; port 0 picks a free port (see port()).
  Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Stops accepting new connections; open ones finish their exchanges.
  void StopAccepting();
  int64_t num_connections() const { return num_connections_->load(); }
  // Exchanges between a complete request and the last byte of its response.
  int64_t num_busy() const { return num_busy_->load(); }
  // Called when a response completes with its status (for metrics).
  void set_status_observer(std::function<void(int)> observer) { status_observer_ = std::move(observer); }

 private:
  void Accept();
  boost::asio::io_context* io_;
  HttpLimits limits_;
  HttpHandler handler_;
  std::function<void(int)> status_observer_;
  boost::asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::shared_ptr<std::atomic<int64_t>> num_connections_;
  std::shared_ptr<std::atomic<int64_t>> num_busy_;
};

}  // namespace tf
