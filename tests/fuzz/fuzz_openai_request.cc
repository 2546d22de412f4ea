// libFuzzer target: OpenAI request JSON -> validated parameters, for both
// endpoints; anything accepted must also pass the sampler's validation or
// be refused by it with a message (never a crash, never an abort).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (tf::Endpoint endpoint : {tf::Endpoint::kChat, tf::Endpoint::kCompletion}) {
    auto parsed = tf::ParseApiRequest(endpoint, body);
    if (auto* request = std::get_if<tf::ApiRequest>(&parsed)) {
      (void)request->sampling.Validate(32000);
      if (request->n < 1 || request->n > 16 || request->top_logprobs < 0 || request->top_logprobs > 20) __builtin_trap();
      if (request->max_tokens && *request->max_tokens < 1) __builtin_trap();
    } else {
      const auto& error = std::get<tf::ApiError>(parsed);
      if (error.status != 400 || error.message.empty()) __builtin_trap();
      (void)error.ToJson().dump();
    }
  }
  return 0;
}
