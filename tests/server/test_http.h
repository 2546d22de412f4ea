// A deliberately plain HTTP/1.1 client for server tests: blocking sockets,
// its own response parsing (Content-Length and chunked), SSE splitting, and
// raw access for clients that misbehave (slowloris, vanishing mid-stream).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tf::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  // Payloads of the SSE "data: " events in the body, in order.
  std::vector<std::string> Events() const;
};

// A connected socket; closes on destruction.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port, int recv_timeout_ms = 30000);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& bytes);
  // Reads one whole response; nullopt on EOF/timeout before it completed.
  std::optional<HttpReply> ReadReply();
  // Reads until `needle` has arrived (true) or the peer closed/timed out.
  bool ReadUntil(const std::string& needle);
  // True when the peer has closed (reads EOF) within the timeout.
  bool WaitClosed();
  void Close();

 private:
  bool Fill();
  int fd_ = -1;
  std::string buffer_;
};

std::string BuildRequest(const std::string& method, const std::string& target, const std::string& body,
                         const std::vector<std::string>& extra_headers = {});
// The value of one sample in /metrics (`name` may carry labels, e.g.
// tokenfab_requests_total{outcome="abort"}); a missing sample is a test
// failure and reads as -1.
double ScrapeMetric(uint16_t port, const std::string& name);

// One request on a fresh connection.
HttpReply Call(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
               const std::vector<std::string>& extra_headers = {});

}  // namespace tf::testing
