#include "cluster/worker_protocol.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cluster/http_call.h"

namespace tf {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxStops = 16;
constexpr size_t kMaxStopBytes = 1024;
constexpr size_t kMaxBias = 4096;
constexpr size_t kMaxTextBytes = 1 << 20;
constexpr int64_t kMaxPrefillDeadlineMs = 600000;

Json IdsJson(const std::vector<int32_t>& ids) { return Json(ids); }

Status Field(const char* name, const char* want) {
  return InvalidArgumentError(fmt::format("internal request: '{}' is not {}", name, want)).WithParam(name);
}

Status ReadIds(const Json& j, const char* name, size_t max, std::vector<int32_t>* out) {
  const auto it = j.find(name);
  if (it == j.end()) return Status::Ok();
  if (!it->is_array() || it->size() > max) return Field(name, fmt::format("an array of at most {} ids", max).c_str());
  out->reserve(it->size());
  for (const Json& v : *it) {
    if (!v.is_number_integer()) return Field(name, "an array of integers");
    const int64_t id = v.get<int64_t>();
    if (id < 0 || id > INT32_MAX) return Field(name, "an array of token ids");
    out->push_back(static_cast<int32_t>(id));
  }
  return Status::Ok();
}

template <typename T>
Status ReadNumber(const Json& j, const char* name, T* out) {
  const auto it = j.find(name);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) return Field(name, "an integer");
    if constexpr (std::is_unsigned_v<T>) {
      if (!it->is_number_unsigned()) return Field(name, "a non-negative integer");
    }
  } else {
    if (!it->is_number()) return Field(name, "a number");
  }
  *out = it->get<T>();
  return Status::Ok();
}

Status ReadBool(const Json& j, const char* name, bool* out) {
  const auto it = j.find(name);
  if (it == j.end()) return Status::Ok();
  if (!it->is_boolean()) return Field(name, "a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

Status ReadSampling(const Json& j, SamplingParams* s) {
  if (!j.is_object()) return Field("sampling", "an object");
  TF_RETURN_IF_ERROR(ReadNumber(j, "temperature", &s->temperature));
  TF_RETURN_IF_ERROR(ReadNumber(j, "top_k", &s->top_k));
  TF_RETURN_IF_ERROR(ReadNumber(j, "top_p", &s->top_p));
  TF_RETURN_IF_ERROR(ReadNumber(j, "min_p", &s->min_p));
  TF_RETURN_IF_ERROR(ReadNumber(j, "repetition_penalty", &s->repetition_penalty));
  TF_RETURN_IF_ERROR(ReadNumber(j, "presence_penalty", &s->presence_penalty));
  TF_RETURN_IF_ERROR(ReadNumber(j, "frequency_penalty", &s->frequency_penalty));
  if (j.contains("seed") && !j["seed"].is_null()) {
    uint64_t seed = 0;
    TF_RETURN_IF_ERROR(ReadNumber(j, "seed", &seed));
    s->seed = seed;
  }
  if (j.contains("logit_bias")) {
    const Json& bias = j["logit_bias"];
    if (!bias.is_array() || bias.size() > kMaxBias) return Field("logit_bias", "an array of [id, bias] pairs");
    for (const Json& pair : bias) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_number()) {
        return Field("logit_bias", "an array of [id, bias] pairs");
      }
      const int64_t id = pair[0].get<int64_t>();
      if (id < 0 || id > INT32_MAX) return Field("logit_bias", "an array of [id, bias] pairs");
      s->logit_bias.emplace_back(static_cast<int32_t>(id), pair[1].get<float>());
    }
  }
  return Status::Ok();
}

// Where the prompt's KV comes from (disaggregation): a prefill worker's KV
// transfer address and the transfer's deadline.
Status ReadPrefill(const Json& j, GenerationRequest* g) {
  if (!j.is_object() || !j.contains("peer") || !j["peer"].is_string()) return Field("prefill", "an object with a peer");
  RemotePrefill remote;
  remote.peer = j["peer"].get<std::string>();
  if (remote.peer.size() > 300 || !ParseHostPort(remote.peer).ok()) return Field("prefill.peer", "a host:port");
  TF_RETURN_IF_ERROR(ReadNumber(j, "deadline_ms", &remote.deadline_ms));
  TF_RETURN_IF_ERROR(ReadBool(j, "via_store", &remote.via_store));
  if (remote.deadline_ms < 0 || remote.deadline_ms > kMaxPrefillDeadlineMs) {
    return Field("prefill.deadline_ms", "in [0, 600000]");
  }
  if (!g->continued.empty()) return Field("prefill", "allowed with a continuation");
  g->remote_prefill = std::move(remote);
  return Status::Ok();
}

}  // namespace

std::string WorkerGenerateRequestToJson(const std::string& model, const GenerationRequest& r) {
  Json sampling = {{"temperature", r.sampling.temperature},
                   {"top_k", r.sampling.top_k},
                   {"top_p", r.sampling.top_p},
                   {"min_p", r.sampling.min_p},
                   {"repetition_penalty", r.sampling.repetition_penalty},
                   {"presence_penalty", r.sampling.presence_penalty},
                   {"frequency_penalty", r.sampling.frequency_penalty}};
  if (r.sampling.seed) sampling["seed"] = *r.sampling.seed;
  if (!r.sampling.logit_bias.empty()) {
    Json bias = Json::array();
    for (const auto& [id, b] : r.sampling.logit_bias) bias.push_back({id, b});
    sampling["logit_bias"] = bias;
  }
  Json j = {{"model", model},
            {"prompt", IdsJson(r.prompt)},
            {"continued", IdsJson(r.continued)},
            {"num_draws_done", r.num_draws_done},
            {"max_tokens", r.max_tokens},
            {"stop", r.stop},
            {"ignore_eos", r.ignore_eos},
            {"top_logprobs", r.top_logprobs},
            {"json_object", r.json_object},
            {"sampling", sampling}};
  if (r.remote_prefill) {
    j["prefill"] = {{"peer", r.remote_prefill->peer},
                    {"deadline_ms", r.remote_prefill->deadline_ms},
                    {"via_store", r.remote_prefill->via_store}};
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<WorkerGenerateRequest> ParseWorkerGenerateRequest(const std::string& json, size_t max_tokens_in) {
  const Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return InvalidArgumentError("internal request: the body is not a JSON object");
  WorkerGenerateRequest out;
  GenerationRequest& g = out.generation;
  if (!j.contains("model") || !j["model"].is_string()) return Field("model", "a string");
  out.model = j["model"].get<std::string>();
  TF_RETURN_IF_ERROR(ReadIds(j, "prompt", max_tokens_in, &g.prompt));
  TF_RETURN_IF_ERROR(ReadIds(j, "continued", max_tokens_in, &g.continued));
  if (g.prompt.size() + g.continued.size() > max_tokens_in) return Field("continued", "within the context");
  TF_RETURN_IF_ERROR(ReadNumber(j, "num_draws_done", &g.num_draws_done));
  TF_RETURN_IF_ERROR(ReadNumber(j, "max_tokens", &g.max_tokens));
  TF_RETURN_IF_ERROR(ReadNumber(j, "top_logprobs", &g.top_logprobs));
  TF_RETURN_IF_ERROR(ReadBool(j, "ignore_eos", &g.ignore_eos));
  TF_RETURN_IF_ERROR(ReadBool(j, "json_object", &g.json_object));
  if (j.contains("stop")) {
    const Json& stop = j["stop"];
    if (!stop.is_array() || stop.size() > kMaxStops) return Field("stop", "an array of at most 16 strings");
    for (const Json& s : stop) {
      if (!s.is_string() || s.get_ref<const std::string&>().size() > kMaxStopBytes) return Field("stop", "an array of strings");
      g.stop.push_back(s.get<std::string>());
    }
  }
  if (j.contains("sampling")) TF_RETURN_IF_ERROR(ReadSampling(j["sampling"], &g.sampling));
  if (j.contains("prefill")) TF_RETURN_IF_ERROR(ReadPrefill(j["prefill"], &g));
  return out;
}

std::string StreamDeltaToJson(const StreamDelta& d) {
  Json j = {{"text", d.text}, {"n", d.num_tokens}, {"draws", d.num_draws}};
  if (d.token >= 0) j["token"] = d.token;
  if (!d.logprobs.empty()) {
    Json lps = Json::array();
    for (const TokenLogprob& lp : d.logprobs) {
      Json top = Json::array();
      for (const auto& [id, p] : lp.top) top.push_back({id, p});
      lps.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"top", top}});
    }
    j["logprobs"] = lps;
  }
  if (d.finished) {
    j["finished"] = true;
    j["finish_reason"] = FinishReasonName(d.finish_reason);
    if (!d.error.empty()) j["error"] = d.error;
    j["usage"] = {{"prompt_tokens", d.usage.prompt_tokens},
                  {"completion_tokens", d.usage.completion_tokens},
                  {"cached_tokens", d.usage.cached_prompt_tokens}};
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

Status DeltaField(const char* name) { return DataLossError(fmt::format("worker delta: '{}' is malformed", name)); }

Status ReadLogprobs(const Json& list, std::vector<TokenLogprob>* out) {
  if (!list.is_array() || list.size() > 4096) return DeltaField("logprobs");
  for (const Json& e : list) {
    if (!e.is_object() || !e.contains("token") || !e["token"].is_number_integer() || !e.contains("logprob") ||
        !e["logprob"].is_number()) {
      return DeltaField("logprobs");
    }
    TokenLogprob lp;
    lp.token = e["token"].get<int32_t>();
    lp.logprob = e["logprob"].get<float>();
    if (e.contains("top")) {
      const Json& top = e["top"];
      if (!top.is_array() || top.size() > 64) return DeltaField("logprobs.top");
      for (const Json& p : top) {
        if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number()) {
          return DeltaField("logprobs.top");
        }
        lp.top.emplace_back(p[0].get<int32_t>(), p[1].get<float>());
      }
    }
    out->push_back(std::move(lp));
  }
  return Status::Ok();
}

StatusOr<FinishReason> ParseFinishReason(const std::string& name) {
  for (FinishReason r : {FinishReason::kStop, FinishReason::kLength, FinishReason::kAbort, FinishReason::kError}) {
    if (name == FinishReasonName(r)) return r;
  }
  return DeltaField("finish_reason");
}

}  // namespace

StatusOr<StreamDelta> ParseStreamDelta(const std::string& json) {
  const Json j = Json::parse(json, nullptr, false);
  if (!j.is_object()) return DataLossError("worker delta: not a JSON object");
  StreamDelta d;
  if (!j.contains("text") || !j["text"].is_string() || j["text"].get_ref<const std::string&>().size() > kMaxTextBytes) {
    return DeltaField("text");
  }
  d.text = j["text"].get<std::string>();
  if (!j.contains("n") || !j["n"].is_number_integer() || j["n"].get<int64_t>() < 0 || j["n"].get<int64_t>() > 1 << 20) {
    return DeltaField("n");
  }
  d.num_tokens = j["n"].get<int64_t>();
  if (j.contains("token")) {
    if (!j["token"].is_number_integer() || j["token"].get<int64_t>() < 0 || j["token"].get<int64_t>() > INT32_MAX) {
      return DeltaField("token");
    }
    d.token = j["token"].get<int32_t>();
  }
  if (d.num_tokens == 1 && d.token < 0) return DeltaField("token");
  if (!j.contains("draws") || !j["draws"].is_number_unsigned()) return DeltaField("draws");
  d.num_draws = j["draws"].get<uint64_t>();
  if (j.contains("logprobs")) TF_RETURN_IF_ERROR(ReadLogprobs(j["logprobs"], &d.logprobs));
  if (j.contains("finished")) {
    if (!j["finished"].is_boolean()) return DeltaField("finished");
    d.finished = j["finished"].get<bool>();
  }
  if (d.finished) {
    if (!j.contains("finish_reason") || !j["finish_reason"].is_string()) return DeltaField("finish_reason");
    TF_ASSIGN_OR_RETURN(d.finish_reason, ParseFinishReason(j["finish_reason"].get<std::string>()));
    if (j.contains("error")) {
      if (!j["error"].is_string()) return DeltaField("error");
      d.error = j["error"].get<std::string>().substr(0, 4096);
    }
    const auto u = j.find("usage");
    if (u == j.end() || !u->is_object()) return DeltaField("usage");
    for (const char* name : {"prompt_tokens", "completion_tokens", "cached_tokens"}) {
      if (!u->contains(name) || !(*u)[name].is_number_unsigned()) return DeltaField("usage");
    }
    d.usage.prompt_tokens = (*u)["prompt_tokens"].get<int64_t>();
    d.usage.completion_tokens = (*u)["completion_tokens"].get<int64_t>();
    d.usage.cached_prompt_tokens = (*u)["cached_tokens"].get<int64_t>();
  }
  return d;
}

}  // namespace tf
