#include "server/api_error.h"

namespace tf {

ApiError ApiErrorFromStatus(const Status& s) {
  ApiError e;
  e.message = s.message();
  e.param = s.param();
  e.code = s.reason();
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
    case StatusCode::kUnimplemented:
      e.status = 400;
      e.type = "invalid_request_error";
      break;
    case StatusCode::kNotFound:
      e.status = 404;
      e.type = "invalid_request_error";
      break;
    case StatusCode::kResourceExhausted:
      e.status = 429;
      e.type = "rate_limit_error";
      e.message = "the server is at capacity: " + s.message();
      break;
    case StatusCode::kUnavailable:
      e.status = 503;
      e.type = "server_error";
      break;
    default:
      e.status = 500;
      e.type = "server_error";
      break;
  }
  return e;
}

std::vector<std::pair<std::string, std::string>> ApiErrorHeaders(const ApiError& error) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (error.status == 429 || error.status == 503) headers.emplace_back("Retry-After", "1");
  if (error.status == 401) headers.emplace_back("WWW-Authenticate", "Bearer");
  return headers;
}

}  // namespace tf
