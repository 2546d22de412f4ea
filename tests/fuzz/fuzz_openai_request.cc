// libFuzzer target: OpenAI request JSON -> typed parameters, for both
// endpoints, then the one validation every request gets where it is
// submitted. Anything either refuses is an InvalidArgument 400 naming a real
// field (never a crash, never an abort); what parses keeps the parser's
// own structural bounds.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "engine/generation.h"
#include "server/api_error.h"
#include "server/openai_request.h"

namespace {

class NullSink : public tf::RequestSink {
 public:
  void OnDelta(tf::StreamDelta) override {}
};

void CheckRefusal(const tf::Status& s) {
  static const std::set<std::string> kParams = {
      "", "model", "messages", "tools", "prompt", "temperature", "top_p", "top_k", "min_p", "presence_penalty",
      "frequency_penalty", "repetition_penalty", "seed", "logit_bias", "stop", "n", "max_tokens",
      "max_completion_tokens", "stream", "stream_options", "ignore_eos", "response_format", "logprobs",
      "top_logprobs"};
  if (s.ok() || s.code() != tf::StatusCode::kInvalidArgument || s.message().empty()) __builtin_trap();
  if (kParams.count(s.param()) == 0) __builtin_trap();
  const tf::ApiError e = tf::ApiErrorFromStatus(s);
  if (e.status != 400 || e.param != s.param()) __builtin_trap();
  (void)e.ToJson().dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (tf::Endpoint endpoint : {tf::Endpoint::kChat, tf::Endpoint::kCompletion}) {
    auto parsed = tf::ParseApiRequest(endpoint, body);
    if (!parsed.ok()) {
      CheckRefusal(parsed.status());
      continue;
    }
    const tf::ApiRequest& request = *parsed;
    if (request.n < 1 || request.n > 16 || request.top_logprobs < 0) __builtin_trap();
    tf::GenerationRequest g;
    g.prompt = request.prompt_is_tokens ? request.prompt_tokens : std::vector<int32_t>{1, 2, 3};
    g.sampling = request.sampling;
    g.max_tokens = request.max_tokens.value_or(16);
    g.stop = request.stop;
    g.top_logprobs = request.logprobs ? request.top_logprobs : -1;
    g.sink = std::make_shared<NullSink>();
    const tf::Status valid = tf::ValidateGenerationRequest(g, 32000, 4096);
    if (!valid.ok()) CheckRefusal(valid.WithParam(request.ParamName(valid.param())));
  }
  return 0;
}
