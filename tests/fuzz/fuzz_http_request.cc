// libFuzzer target: HTTP/1.1 request parsing as the server does it (Beast's
// parser under tokenfab's header and body limits, fed in pieces as a socket
// would), then what the server does with a complete request: the route, the
// X-Request-Id and Authorization headers and the OpenAI body.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "server/openai_request.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  // Feed in uneven pieces (the first byte picks the piece size).
  const size_t piece = size > 0 ? 1 + data[0] % 97 : 1;
  std::string pending;
  boost::beast::error_code ec;
  for (size_t off = size > 0 ? 1 : 0; off < size && !parser.is_done(); off += piece) {
    pending.append(reinterpret_cast<const char*>(data) + off, std::min(piece, size - off));
    const size_t used = parser.put(boost::asio::buffer(pending), ec);
    if (ec == http::error::need_more) ec = {};
    if (ec) return 0;
    pending.erase(0, used);
  }
  if (!parser.is_done()) return 0;
  const auto& req = parser.get();
  const std::string target(req.target());
  const auto auth = req.find(http::field::authorization);
  if (auth != req.end()) (void)std::string(auth->value()).rfind("Bearer ", 0);
  const auto id = req.find("X-Request-Id");
  if (id != req.end()) (void)std::string(id->value()).size();
  if (target.find("/v1/chat/completions") == 0) (void)tf::ParseApiRequest(tf::Endpoint::kChat, req.body());
  if (target.find("/v1/completions") == 0) (void)tf::ParseApiRequest(tf::Endpoint::kCompletion, req.body());
  return 0;
}
