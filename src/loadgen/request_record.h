// What loadgen measured for one request. Times are seconds from the start
// of the run (so records from one run share a clock).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tf {

struct RequestRecord {
  double start_s = 0;
  double ttft_s = -1;  // first content token; -1 when none arrived
  double e2e_s = -1;   // last byte of the response
  std::vector<double> token_times_s;  // each content event's arrival
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  bool usage_reported = false;  // token counts came from the server's `usage`
  std::string error;            // empty: success; else a type (http_429, connect, timeout, ...)
  std::string error_detail;

  bool ok() const { return error.empty(); }
  // Mean time per output token after the first, or -1.
  double tpot_s() const {
    if (!ok() || output_tokens < 2 || ttft_s < 0) return -1;
    return (e2e_s - ttft_s) / static_cast<double>(output_tokens - 1);
  }
};

}  // namespace tf
