// A streaming completion client for the cluster tests: reads the SSE reply
// as it arrives (de-chunking it), calls back after each event that carries
// text so a test can kill things at a chosen point, and gathers the text,
// usage, errors and event times.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/test_http.h"

namespace tf::testing {

struct StreamResult {
  int status = 0;
  std::string text;
  nlohmann::json usage;
  std::string error;          // an error event's message
  std::string finish_reason;
  int64_t num_text_events = 0;
  bool saw_done = false;
  std::vector<double> event_times_s;  // since the request was sent, per text event
  std::string raw;                    // what arrived (for failure messages)
};

inline StreamResult StreamCompletion(uint16_t port, nlohmann::json body,
                                     const std::function<void(int64_t num_text_events)>& on_event = {},
                                     int timeout_ms = 60000) {
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  StreamResult out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return out;
  }
  const std::string request = BuildRequest("POST", "/v1/completions", body.dump(), {"Connection: close"});
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  const auto start = std::chrono::steady_clock::now();
  std::string buffer, body_bytes, sse;
  bool header_done = false, chunked = false;
  auto on_data = [&](const std::string& data) {
    if (data == "[DONE]") {
      out.saw_done = true;
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
    if (!j.is_object()) return;
    if (j.contains("error")) out.error = j["error"].value("message", "error");
    if (j.contains("usage") && j["usage"].is_object()) out.usage = j["usage"];
    if (!j.contains("choices")) return;
    for (const auto& c : j["choices"]) {
      if (c.contains("finish_reason") && c["finish_reason"].is_string()) out.finish_reason = c["finish_reason"];
      if (c.contains("text") && c["text"].is_string() && !c["text"].get<std::string>().empty()) {
        out.text += c["text"].get<std::string>();
        ++out.num_text_events;
        out.event_times_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (on_event) on_event(out.num_text_events);
      }
    }
  };
  auto drain_sse = [&] {
    size_t end;
    while ((end = sse.find("\n\n")) != std::string::npos) {
      const std::string event = sse.substr(0, end);
      sse.erase(0, end + 2);
      if (event.rfind("data: ", 0) == 0) on_data(event.substr(6));
    }
  };
  char chunk[16384];
  while (true) {
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    out.raw.append(chunk, static_cast<size_t>(n));
    buffer.append(chunk, static_cast<size_t>(n));
    if (!header_done) {
      const size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const std::string header = buffer.substr(0, end);
      out.status = std::atoi(header.substr(9, 3).c_str());
      chunked = header.find("chunked") != std::string::npos;
      buffer.erase(0, end + 4);
      header_done = true;
    }
    if (!chunked) {
      sse += buffer;
      buffer.clear();
    } else {
      while (true) {
        const size_t eol = buffer.find("\r\n");
        if (eol == std::string::npos) break;
        const size_t size = std::stoul(buffer.substr(0, eol), nullptr, 16);
        if (buffer.size() < eol + 2 + size + 2) break;
        sse += buffer.substr(eol + 2, size);
        buffer.erase(0, eol + 2 + size + 2);
      }
    }
    drain_sse();
  }
  ::close(fd);
  if (!chunked && out.status != 200) {
    const nlohmann::json j = nlohmann::json::parse(sse, nullptr, false);
    if (j.is_object() && j.contains("error")) out.error = j["error"].value("message", "error");
  }
  return out;
}

}  // namespace tf::testing
