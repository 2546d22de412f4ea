#include "server/openai_request.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace tf {
namespace {

using Json = nlohmann::ordered_json;

// Field readers: absent or null leaves `out` alone; a wrong JSON type (or
// an integer the field's C++ type cannot hold) is an error naming the
// field. The values themselves are checked where the request is submitted.
class Fields {
 public:
  explicit Fields(const Json& body) : body_(body) {}
  Status error;

  const Json* Get(const char* name) const {
    const auto it = body_.find(name);
    if (it == body_.end() || it->is_null()) return nullptr;
    return &*it;
  }
  void Fail(const char* name, std::string message) {
    if (error.ok()) error = InvalidArgumentError(fmt::format("'{}': {}", name, message)).WithParam(name);
  }
  void Number(const char* name, float* out) {
    const Json* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_number()) return Fail(name, "must be a number");
    *out = static_cast<float>(v->get<double>());  // out-of-range values become inf: refused by validation
  }
  template <typename T>
  void Integer(const char* name, T* out, int64_t lo = std::numeric_limits<T>::min(),
               int64_t hi = static_cast<int64_t>(std::numeric_limits<T>::max())) {
    const Json* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail(name, "must be an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi)) {
      return Fail(name, fmt::format("{} is outside [{}, {}]", v->get<uint64_t>(), lo, hi));
    }
    const int64_t i = v->get<int64_t>();
    if (i < lo || i > hi) return Fail(name, fmt::format("{} is outside [{}, {}]", i, lo, hi));
    *out = static_cast<T>(i);
  }
  void Bool(const char* name, bool* out) {
    const Json* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(name, "must be true or false");
    *out = v->get<bool>();
  }
  void String(const char* name, std::string* out) {
    const Json* v = Get(name);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(name, "must be a string");
    *out = v->get<std::string>();
  }

 private:
  const Json& body_;
};

void ParseStop(Fields* f, const ParseLimits& limits, std::vector<std::string>* out) {
  const Json* v = f->Get("stop");
  if (v == nullptr) return;
  if (v->is_string()) {
    *out = {v->get<std::string>()};
  } else if (v->is_array()) {
    if (v->size() > static_cast<size_t>(limits.max_stop_strings)) {
      return f->Fail("stop", fmt::format("at most {} stop strings, got {}", limits.max_stop_strings, v->size()));
    }
    for (const Json& s : *v) {
      if (!s.is_string()) return f->Fail("stop", "must be a string or an array of strings");
      out->push_back(s.get<std::string>());
    }
  } else {
    return f->Fail("stop", "must be a string or an array of strings");
  }
  for (const std::string& s : *out) {
    if (s.size() > limits.max_stop_bytes) return f->Fail("stop", fmt::format("a stop string is longer than {} bytes", limits.max_stop_bytes));
  }
}

void ParseLogitBias(Fields* f, const ParseLimits& limits, SamplingParams* sampling) {
  const Json* v = f->Get("logit_bias");
  if (v == nullptr) return;
  if (!v->is_object()) return f->Fail("logit_bias", "must be an object mapping token ids to biases");
  if (v->size() > limits.max_logit_bias) return f->Fail("logit_bias", fmt::format("at most {} entries", limits.max_logit_bias));
  for (const auto& [key, bias] : v->items()) {
    int64_t token = -1;
    const auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), token);
    if (ec != std::errc() || ptr != key.data() + key.size() || token < 0 || token > INT32_MAX) {
      return f->Fail("logit_bias", fmt::format("key '{}' is not a token id", key));
    }
    if (!bias.is_number()) return f->Fail("logit_bias", fmt::format("bias for token {} must be a number", token));
    sampling->logit_bias.emplace_back(static_cast<int32_t>(token), static_cast<float>(bias.get<double>()));
  }
}

void ParseSampling(Fields* f, const ParseLimits& limits, ApiRequest* r) {
  SamplingParams& s = r->sampling;
  f->Number("temperature", &s.temperature);
  f->Number("top_p", &s.top_p);
  f->Integer("top_k", &s.top_k);
  if (s.top_k == -1) s.top_k = 0;  // -1 means off, as in vLLM
  f->Number("min_p", &s.min_p);
  f->Number("presence_penalty", &s.presence_penalty);
  f->Number("frequency_penalty", &s.frequency_penalty);
  f->Number("repetition_penalty", &s.repetition_penalty);
  if (const Json* seed = f->Get("seed")) {
    if (!seed->is_number_integer()) {
      f->Fail("seed", "must be an integer");
    } else {
      s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
    }
  }
  ParseLogitBias(f, limits, &s);
  ParseStop(f, limits, &r->stop);
  f->Integer("n", &r->n, 1, limits.max_n);
  if (f->Get("max_completion_tokens") != nullptr) {
    r->max_tokens_param = "max_completion_tokens";
    f->Integer("max_completion_tokens", &r->max_tokens.emplace());
  } else if (f->Get("max_tokens") != nullptr) {
    f->Integer("max_tokens", &r->max_tokens.emplace());
  }
  f->Bool("stream", &r->stream);
  if (const Json* so = f->Get("stream_options")) {
    if (!so->is_object()) return f->Fail("stream_options", "must be an object");
    const auto it = so->find("include_usage");
    if (it != so->end() && !it->is_null()) {
      if (!it->is_boolean()) return f->Fail("stream_options", "include_usage must be true or false");
      r->include_usage = it->get<bool>();
    }
  }
  f->Bool("ignore_eos", &r->ignore_eos);
  if (const Json* rf = f->Get("response_format")) {
    const auto type = rf->is_object() ? rf->find("type") : rf->end();
    if (type == rf->end() || !type->is_string()) return f->Fail("response_format", "must be an object with a 'type'");
    const std::string t = type->get<std::string>();
    if (t == "json_object") r->json_object = true;
    else if (t != "text") f->Fail("response_format", fmt::format("type '{}' is not supported (text, json_object)", t));
  }
}

void ParseLogprobs(Fields* f, ApiRequest* r) {
  if (r->endpoint == Endpoint::kChat) {
    f->Bool("logprobs", &r->logprobs);
    f->Integer("top_logprobs", &r->top_logprobs, 0);  // a count: the engine bounds it
    if (f->Get("top_logprobs") != nullptr && !r->logprobs && f->error.ok()) {
      f->Fail("top_logprobs", "needs logprobs: true");
    }
    return;
  }
  int n = -1;
  f->Integer("logprobs", &n, 0, 5);  // the completions API's own range
  if (n >= 0) {
    r->logprobs = true;
    r->top_logprobs = n;
  }
}

Status ParseMessages(const Json& body, ApiRequest* r) {
  const auto it = body.find("messages");
  if (it == body.end() || !it->is_array() || it->empty()) {
    return InvalidArgumentError("'messages' must be a non-empty array").WithParam("messages");
  }
  for (const Json& m : *it) {
    if (!m.is_object()) return InvalidArgumentError("every message must be an object").WithParam("messages");
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return InvalidArgumentError("every message needs a string 'role'").WithParam("messages");
    const auto content = m.find("content");
    if (content != m.end() && !content->is_null() && !content->is_string() && !content->is_array()) {
      return InvalidArgumentError("'content' must be a string, an array of parts or null").WithParam("messages");
    }
    if (content != m.end() && content->is_array()) {
      for (const Json& part : *content) {
        const auto text = part.is_object() ? part.find("text") : part.end();
        if (text == part.end() || !text->is_string()) {
          return InvalidArgumentError("content parts must be objects with a string 'text' (only text is supported)").WithParam("messages");
        }
      }
    }
  }
  r->messages = *it;
  const auto tools = body.find("tools");
  if (tools != body.end() && !tools->is_null()) {
    if (!tools->is_array()) return InvalidArgumentError("'tools' must be an array").WithParam("tools");
    r->tools = *tools;
  }
  return Status::Ok();
}

Status ParsePrompt(const Json& body, ApiRequest* r) {
  const auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return InvalidArgumentError("'prompt' is required").WithParam("prompt");
  const Json* p = &*it;
  if (p->is_array() && p->size() == 1 && ((*p)[0].is_string() || (*p)[0].is_array())) p = &(*p)[0];
  if (p->is_string()) {
    r->prompt_text = p->get<std::string>();
    return Status::Ok();
  }
  if (!p->is_array() || p->empty()) return InvalidArgumentError("'prompt' must be a string or a non-empty array of token ids").WithParam("prompt");
  for (const Json& t : *p) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > INT32_MAX) {
      return InvalidArgumentError("token ids in 'prompt' must be non-negative integers").WithParam("prompt");
    }
    r->prompt_tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  r->prompt_is_tokens = true;
  return Status::Ok();
}

}  // namespace

bool JsonDepthWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

StatusOr<ApiRequest> ParseApiRequest(Endpoint endpoint, std::string_view body, const ParseLimits& limits) {
  if (!JsonDepthWithin(body, limits.max_json_depth)) {
    return InvalidArgumentError(fmt::format("the request body nests deeper than {} levels", limits.max_json_depth));
  }
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return InvalidArgumentError("the request body is not valid JSON");
  if (!json.is_object()) return InvalidArgumentError("the request body must be a JSON object");
  ApiRequest r;
  r.endpoint = endpoint;
  Fields f(json);
  f.String("model", &r.model);
  ParseSampling(&f, limits, &r);
  ParseLogprobs(&f, &r);
  TF_RETURN_IF_ERROR(f.error);
  TF_RETURN_IF_ERROR(endpoint == Endpoint::kChat ? ParseMessages(json, &r) : ParsePrompt(json, &r));
  return r;
}

std::string ApiRequest::ParamName(const std::string& param) const {
  if (param == "prompt" && endpoint == Endpoint::kChat) return "messages";
  if (param == "max_tokens") return max_tokens_param;
  return param;
}

}  // namespace tf
