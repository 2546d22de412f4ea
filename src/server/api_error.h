// An error answered in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}} with its HTTP status.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

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

inline ApiError BadParam(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

}  // namespace tf
