// OpenAI request JSON (chat completions and completions) parsed into typed
// parameters: the JSON's shape, each field's type, the API's own structure
// (messages, prompt forms, stop, response_format, logprobs coupling) and
// the size limits that keep a hostile body cheap. Value ranges are checked
// once, where the request is submitted (ValidateGenerationRequest). A
// problem is a Status naming the offending field as param(). Nothing here
// touches the model: prompts are tokenized by the API server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sample/sampling_params.h"
#include "base/status.h"

namespace tf {

enum class Endpoint { kChat, kCompletion };

struct ApiRequest {
  Endpoint endpoint = Endpoint::kChat;
  std::string model;
  nlohmann::ordered_json messages;  // chat: validated array of {role, content}
  nlohmann::ordered_json tools;     // chat: null or array
  std::string prompt_text;          // completions, when the prompt is text
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;
  SamplingParams sampling;
  std::optional<int64_t> max_tokens;
  std::string max_tokens_param = "max_tokens";  // the field the client used (or max_completion_tokens)
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;
  bool logprobs = false;
  int top_logprobs = 0;
  bool json_object = false;
  bool ignore_eos = false;

  // The client's name for a parameter the engine reports (its prompt is
  // "messages" in chat; max_tokens may have come as max_completion_tokens).
  std::string ParamName(const std::string& param) const;
};

struct ParseLimits {
  int max_n = 16;
  int max_stop_strings = 16;
  size_t max_stop_bytes = 256;
  size_t max_logit_bias = 1024;
  int max_json_depth = 64;
};

// `body` is the raw request body.
StatusOr<ApiRequest> ParseApiRequest(Endpoint endpoint, std::string_view body, const ParseLimits& limits = ParseLimits{});

// False when brackets nest deeper than `max_depth` (checked before parsing,
// so a hostile body cannot exhaust the parser's stack).
bool JsonDepthWithin(std::string_view text, int max_depth);

}  // namespace tf
