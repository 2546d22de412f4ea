#include "server/test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

namespace tf::testing {

std::vector<std::string> HttpReply::Events() const {
  std::vector<std::string> events;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    events.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return events;
}

RawConnection::RawConnection(uint16_t port, int recv_timeout_ms) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  timeval tv{recv_timeout_ms / 1000, (recv_timeout_ms % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Close();
}

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::Send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool RawConnection::Fill() {
  char chunk[65536];
  const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

bool RawConnection::ReadUntil(const std::string& needle) {
  while (buffer_.find(needle) == std::string::npos) {
    if (!Fill()) return false;
  }
  return true;
}

bool RawConnection::WaitClosed() {
  char c;
  for (;;) {
    const ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n == 0) return true;
    if (n < 0) {
      ADD_FAILURE() << "recv: " << std::strerror(errno);
      return errno == ECONNRESET;
    }
  }
}

std::optional<HttpReply> RawConnection::ReadReply() {
  if (!ReadUntil("\r\n\r\n")) return std::nullopt;
  const size_t header_end = buffer_.find("\r\n\r\n");
  const std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);
  HttpReply reply;
  reply.status = std::stoi(head.substr(9, 3));
  size_t line_start = head.find("\r\n");
  while (line_start != std::string::npos) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    const std::string line = head.substr(line_start, line_end - line_start);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    line_start = line_end;
  }
  if (reply.headers["transfer-encoding"] == "chunked") {
    for (;;) {
      if (!ReadUntil("\r\n")) return std::nullopt;
      const size_t eol = buffer_.find("\r\n");
      const size_t size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
      while (buffer_.size() < eol + 2 + size + 2) {
        if (!Fill()) return std::nullopt;
      }
      reply.body += buffer_.substr(eol + 2, size);
      buffer_.erase(0, eol + 2 + size + 2);
      if (size == 0) break;
    }
  } else {
    const size_t length = reply.headers.count("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  }
  return reply;
}

std::string BuildRequest(const std::string& method, const std::string& target, const std::string& body,
                         const std::vector<std::string>& extra_headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const std::string& h : extra_headers) req += h + "\r\n";
  if (!body.empty() || method == "POST") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return req + "\r\n" + body;
}

HttpReply Call(uint16_t port, const std::string& method, const std::string& target, const std::string& body,
               const std::vector<std::string>& extra_headers) {
  RawConnection c(port);
  if (!c.ok() || !c.Send(BuildRequest(method, target, body, extra_headers))) return HttpReply{};
  return c.ReadReply().value_or(HttpReply{});
}

double ScrapeMetric(uint16_t port, const std::string& name) {
  const HttpReply r = Call(port, "GET", "/metrics");
  size_t pos = 0;
  while ((pos = r.body.find(name, pos)) != std::string::npos) {
    const bool line_start = pos == 0 || r.body[pos - 1] == '\n';
    const size_t after = pos + name.size();
    if (line_start && after < r.body.size() && r.body[after] == ' ') return std::stod(r.body.substr(after + 1));
    pos = after;
  }
  ADD_FAILURE() << "metric " << name << " not found";
  return -1;
}

}  // namespace tf::testing
