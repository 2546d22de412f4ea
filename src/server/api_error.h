// An error answered in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}} with its HTTP status, and
// the one mapping from a Status to it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace tf {

struct ApiError {
  ApiError() = default;
  ApiError(int status_in, std::string message_in, std::string type_in = "invalid_request_error",
           std::string param_in = "", std::string code_in = "")
      : status(status_in), message(std::move(message_in)), type(std::move(type_in)), param(std::move(param_in)),
        code(std::move(code_in)) {}
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null

  nlohmann::json ToJson() const {
    nlohmann::json e = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    if (!code.empty()) e["code"] = code;
    return {{"error", e}};
  }
};

// InvalidArgument and OutOfRange: 400 invalid_request_error; NotFound: 404;
// ResourceExhausted: 429 rate_limit_error (the server is at capacity);
// Unavailable: 503; Unimplemented: 400; anything else: 500 server_error.
// `param` and `code` come from the status's param() and reason().
ApiError ApiErrorFromStatus(const Status& status);

// The headers an error response carries: Retry-After on 429 and 503,
// WWW-Authenticate on 401.
std::vector<std::pair<std::string, std::string>> ApiErrorHeaders(const ApiError& error);

}  // namespace tf
