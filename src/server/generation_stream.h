// One HTTP request's generation: its n choices running in the engine, and
// the response they become (SSE chunks as they arrive, or one JSON body at
// the end). Lives on the io thread; engine deltas are posted to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/generation.h"
#include "server/generation_backend.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/reasoning_splitter.h"
#include "server/served_model.h"

namespace tf {

class GenerationStream : public std::enable_shared_from_this<GenerationStream> {
 public:
  GenerationStream(std::shared_ptr<HttpExchange> exchange, const ApiRequest& request, const ServedModel& model,
                   GenerationBackend* backend, ServerMetrics* metrics, int64_t num_prompt_tokens, bool starts_in_reasoning,
                   std::chrono::steady_clock::time_point arrival, const std::string& request_id = "");

  // Sends the stream's header (when streaming). Call before any delta.
  void Start();
  void AddHandle(uint64_t handle) { handles_.push_back(handle); }
  // Engine output for choice `index` (io thread).
  void OnDelta(int index, StreamDelta delta);
  // Aborts every unfinished choice in the backend.
  void AbortAll();
  bool done() const { return num_finished_ == static_cast<int>(choices_.size()); }
  void set_on_done(std::function<void()> cb) { on_done_ = std::move(cb); }

 private:
  struct Choice {
    std::string content;
    std::string reasoning;
    nlohmann::json logprobs = nlohmann::json::array();
    std::optional<ReasoningSplitter> splitter;
    std::string finish_reason;
    std::string error;
    int64_t completion_tokens = 0;
    bool finished = false;
  };
  nlohmann::json LogprobsJson(const std::vector<TokenLogprob>& lps) const;
  nlohmann::json ChunkBase() const;
  void SendStreamDelta(int index, const ReasoningSplitter::Parts& parts, const nlohmann::json& logprobs);
  void SendFinishChunk(int index);
  void Finish();
  void RespondWhole(const nlohmann::json& usage);
  void RecordTiming(int index, const StreamDelta& delta);
  void SendEvent(const nlohmann::json& event);

  std::shared_ptr<HttpExchange> exchange_;
  ApiRequest request_;
  const ServedModel& model_;
  GenerationBackend* backend_;
  ServerMetrics* metrics_;
  int64_t num_prompt_tokens_;
  int64_t cached_prompt_tokens_ = 0;
  std::string id_;
  int64_t created_;
  std::vector<Choice> choices_;
  std::vector<uint64_t> handles_;
  int num_finished_ = 0;
  std::chrono::steady_clock::time_point arrival_;
  std::optional<std::chrono::steady_clock::time_point> first_token_, last_token_;
  std::function<void()> on_done_;
};

}  // namespace tf
