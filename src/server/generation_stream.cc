#include "server/generation_stream.h"

#include "server/api_error.h"

#include <chrono>
#include <random>

#include <fmt/format.h>

namespace tf {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string NewId(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}-{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

// A token's text for JSON: bytes that are not valid UTF-8 become U+FFFD
// when dumped; `bytes` keeps the exact bytes.
Json BytesArray(const std::string& piece) {
  Json bytes = Json::array();
  for (unsigned char c : piece) bytes.push_back(c);
  return bytes;
}

// The legacy completions logprobs shape, from chat-style entries
// ({token, logprob, bytes, top_logprobs}); whole responses also carry each
// token's byte offset into the text.
Json CompletionLogprobs(const Json& entries, bool with_offsets) {
  Json tokens = Json::array(), token_lps = Json::array(), tops = Json::array(), offsets = Json::array();
  size_t offset = 0;
  for (const Json& lp : entries) {
    tokens.push_back(lp["token"]);
    token_lps.push_back(lp["logprob"]);
    offsets.push_back(offset);
    offset += lp["bytes"].size();
    Json top = Json::object();
    for (const Json& t : lp["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
    tops.push_back(top);
  }
  Json out = {{"tokens", tokens}, {"token_logprobs", token_lps}, {"top_logprobs", tops}};
  if (with_offsets) out["text_offset"] = offsets;
  return out;
}

}  // namespace

GenerationStream::GenerationStream(std::shared_ptr<HttpExchange> exchange, const ApiRequest& request,
                                   const ServedModel& model, GenerationBackend* backend, ServerMetrics* metrics,
                                   int64_t num_prompt_tokens, bool starts_in_reasoning,
                                   std::chrono::steady_clock::time_point arrival, const std::string& request_id)
    : exchange_(std::move(exchange)), request_(request), model_(model), backend_(backend), metrics_(metrics),
      num_prompt_tokens_(num_prompt_tokens),
      id_(!request_id.empty() ? request_id : NewId(request.endpoint == Endpoint::kChat ? "chatcmpl" : "cmpl")),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()),
      choices_(static_cast<size_t>(request.n)), arrival_(arrival) {
  if (request.endpoint == Endpoint::kChat && model.reasoning) {
    for (Choice& c : choices_) c.splitter.emplace(starts_in_reasoning);
  }
}

void GenerationStream::Start() {
  if (!request_.stream) return;
  exchange_->StartStream(200, "text/event-stream");
  if (request_.endpoint != Endpoint::kChat) return;
  // OpenAI opens each chat choice with the assistant role.
  for (int i = 0; i < request_.n; ++i) {
    Json chunk = ChunkBase();
    chunk["choices"] = Json::array({{{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                     {"logprobs", nullptr}, {"finish_reason", nullptr}}});
    SendEvent(chunk);
  }
}

Json GenerationStream::ChunkBase() const {
  Json j = {{"id", id_},
            {"object", request_.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion"},
            {"created", created_},
            {"model", model_.name}};
  if (request_.include_usage) j["usage"] = nullptr;
  return j;
}

void GenerationStream::SendEvent(const Json& event) { exchange_->SendChunk("data: " + Dump(event) + "\n\n"); }

Json GenerationStream::LogprobsJson(const std::vector<TokenLogprob>& lps) const {
  Json out = Json::array();
  for (const TokenLogprob& lp : lps) {
    Json top = Json::array();
    for (const auto& [id, logprob] : lp.top) {
      const std::string piece = model_.tokenizer->TokenToPiece(id);
      top.push_back({{"token", piece}, {"logprob", logprob}, {"bytes", BytesArray(piece)}});
    }
    out.push_back({{"token", lp.piece}, {"logprob", lp.logprob}, {"bytes", BytesArray(lp.piece)}, {"top_logprobs", top}});
  }
  return out;
}

void GenerationStream::RecordTiming(int index, const StreamDelta& delta) {
  if (index != 0 || delta.num_tokens == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!first_token_) {
    first_token_ = now;
    metrics_->ObserveTtft(std::chrono::duration<double>(now - arrival_).count());
  } else {
    metrics_->ObserveInterToken(std::chrono::duration<double>(now - *last_token_).count());
  }
  last_token_ = now;
}

void GenerationStream::OnDelta(int index, StreamDelta delta) {
  Choice& c = choices_[static_cast<size_t>(index)];
  if (c.finished) return;
  RecordTiming(index, delta);
  ReasoningSplitter::Parts parts;
  if (c.splitter) {
    parts = c.splitter->Push(delta.text);
    if (delta.finished) {
      ReasoningSplitter::Parts rest = c.splitter->Flush();
      parts.reasoning += rest.reasoning;
      parts.content += rest.content;
    }
  } else {
    parts.content = std::move(delta.text);
  }
  c.content += parts.content;
  c.reasoning += parts.reasoning;
  const Json logprobs = request_.logprobs ? LogprobsJson(delta.logprobs) : Json();
  if (request_.logprobs) c.logprobs.insert(c.logprobs.end(), logprobs.begin(), logprobs.end());
  if (request_.stream) SendStreamDelta(index, parts, logprobs);
  if (!delta.finished) return;
  c.finished = true;
  c.finish_reason = FinishReasonName(delta.finish_reason);
  c.error = delta.error;
  c.completion_tokens = delta.usage.completion_tokens;
  if (index == 0) cached_prompt_tokens_ = delta.usage.cached_prompt_tokens;
  metrics_->RecordOutcome(c.finish_reason);
  if (request_.stream && delta.finish_reason != FinishReason::kError) SendFinishChunk(index);
  if (++num_finished_ == static_cast<int>(choices_.size())) Finish();
}

void GenerationStream::SendStreamDelta(int index, const ReasoningSplitter::Parts& parts, const Json& logprobs) {
  if (parts.content.empty() && parts.reasoning.empty() && (logprobs.is_null() || logprobs.empty())) return;
  Json chunk = ChunkBase();
  Json choice = {{"index", index}, {"finish_reason", nullptr}};
  if (request_.endpoint == Endpoint::kChat) {
    Json d = Json::object();
    if (!parts.content.empty()) d["content"] = parts.content;
    if (!parts.reasoning.empty()) d["reasoning_content"] = parts.reasoning;
    choice["delta"] = d;
    choice["logprobs"] = request_.logprobs ? Json{{"content", logprobs}} : Json();
  } else {
    choice["text"] = parts.content;
    choice["logprobs"] = nullptr;
    if (request_.logprobs) choice["logprobs"] = CompletionLogprobs(logprobs, /*with_offsets=*/false);
  }
  chunk["choices"] = Json::array({choice});
  SendEvent(chunk);
}

void GenerationStream::SendFinishChunk(int index) {
  const Choice& c = choices_[static_cast<size_t>(index)];
  Json chunk = ChunkBase();
  Json choice = {{"index", index}, {"logprobs", nullptr}, {"finish_reason", c.finish_reason}};
  if (request_.endpoint == Endpoint::kChat) choice["delta"] = Json::object();
  else choice["text"] = "";
  chunk["choices"] = Json::array({choice});
  SendEvent(chunk);
}

void GenerationStream::Finish() {
  int64_t completion_tokens = 0;
  const Choice* failed = nullptr;
  for (const Choice& c : choices_) {
    completion_tokens += c.completion_tokens;
    if (!c.error.empty() && failed == nullptr) failed = &c;
  }
  metrics_->RecordTokens(num_prompt_tokens_, completion_tokens);
  const double e2e = std::chrono::duration<double>(std::chrono::steady_clock::now() - arrival_).count();
  const int64_t first_tokens = choices_[0].completion_tokens;
  const bool has_tpot = first_token_.has_value() && first_tokens > 1;
  const double tpot = has_tpot ? std::chrono::duration<double>(*last_token_ - *first_token_).count() / static_cast<double>(first_tokens - 1) : 0;
  metrics_->ObserveRequest(e2e, tpot, has_tpot);

  const Json usage = {{"prompt_tokens", num_prompt_tokens_},
                      {"completion_tokens", completion_tokens},
                      {"total_tokens", num_prompt_tokens_ + completion_tokens},
                      {"prompt_tokens_details", {{"cached_tokens", cached_prompt_tokens_}}}};  // n choices, one prompt
  if (request_.stream) {
    if (failed != nullptr) {
      SendEvent(ApiErrorFromStatus(InternalError("generation failed: " + failed->error)).ToJson());
    } else if (request_.include_usage) {
      Json chunk = ChunkBase();
      chunk["choices"] = Json::array();
      chunk["usage"] = usage;
      SendEvent(chunk);
    }
    exchange_->SendChunk("data: [DONE]\n\n");
    exchange_->EndStream();
  } else if (failed != nullptr) {
    const ApiError e = ApiErrorFromStatus(InternalError("generation failed: " + failed->error));
    exchange_->Respond(e.status, Dump(e.ToJson()), "application/json");
  } else {
    RespondWhole(usage);
  }
  if (on_done_) on_done_();
}

void GenerationStream::RespondWhole(const Json& usage) {
  Json choices = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    Json choice = {{"index", i}, {"finish_reason", c.finish_reason}, {"logprobs", nullptr}};
    if (request_.endpoint == Endpoint::kChat) {
      Json message = {{"role", "assistant"}, {"content", c.content}};
      if (c.splitter) message["reasoning_content"] = c.reasoning.empty() ? Json() : Json(c.reasoning);
      choice["message"] = message;
      if (request_.logprobs) choice["logprobs"] = {{"content", c.logprobs}};
    } else {
      choice["text"] = c.content;
      if (request_.logprobs) choice["logprobs"] = CompletionLogprobs(c.logprobs, /*with_offsets=*/true);
    }
    choices.push_back(choice);
  }
  const Json body = {{"id", id_},
                     {"object", request_.endpoint == Endpoint::kChat ? "chat.completion" : "text_completion"},
                     {"created", created_},
                     {"model", model_.name},
                     {"choices", choices},
                     {"usage", usage}};
  exchange_->Respond(200, Dump(body), "application/json");
}

void GenerationStream::AbortAll() {
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (!choices_[i].finished) backend_->Abort(handles_[i]);
  }
}

}  // namespace tf
