// One streaming request over its own connection, fully asynchronous: connect,
// send, then parse the SSE body as it arrives and timestamp every content
// event. Counts tokens from the final `usage` when the server sends one,
// otherwise one per content-carrying chunk.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "loadgen/request_record.h"

namespace tf {

struct CallSpec {
  boost::asio::ip::tcp::resolver::results_type endpoints;
  std::string host_header;
  std::string target;  // e.g. /v1/completions
  std::string api_key;
  std::string body;
  std::chrono::milliseconds timeout{600000};
  std::chrono::steady_clock::time_point run_start;
};

// Starts the call; `done` runs on the io thread with the finished record.
void StartStreamingCall(boost::asio::io_context* io, const CallSpec& spec, std::function<void(RequestRecord)> done);

}  // namespace tf
