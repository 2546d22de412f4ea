#include "engine/active_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tf {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kAbort: return "abort";
    case FinishReason::kError: return "error";
  }
  return "error";
}

ActiveRequest::ActiveRequest(uint64_t id, SeqId seq_id, GenerationRequest gen, const Vocab& vocab,
                           const TextPieces& pieces, int64_t ctx_size)
    : id_(id), gen_(std::move(gen)), vocab_(vocab), pieces_(pieces), ctx_size_(ctx_size),
      sampler_(gen_.sampling, static_cast<int64_t>(vocab.size())), stops_(gen_.stop) {
  request_.seq_id = seq_id;
  request_.tokens = gen_.prompt;
  request_.num_prompt_tokens = static_cast<int64_t>(gen_.prompt.size());
  sampler_.SetPrompt(gen_.prompt);
}

void ActiveRequest::MaskForJson(std::span<float> logits) const {
  constexpr float kNeg = -std::numeric_limits<float>::infinity();
  for (size_t id = 0; id < logits.size(); ++id) {
    if (logits[id] == kNeg) continue;
    const std::string& piece = pieces_[static_cast<int32_t>(id)];
    JsonRecognizer probe = json_;
    if (piece.empty() || !probe.Feed(piece)) logits[id] = kNeg;
  }
}

TokenLogprob ActiveRequest::ComputeLogprob(std::span<const float> raw, int32_t token) const {
  const float max_logit = *std::max_element(raw.begin(), raw.end());
  double sum = 0;
  for (float v : raw) sum += std::exp(static_cast<double>(v - max_logit));
  const float log_z = max_logit + static_cast<float>(std::log(sum));
  TokenLogprob out;
  out.token = token;
  out.piece = pieces_[token];
  out.logprob = raw[static_cast<size_t>(token)] - log_z;
  const size_t k = std::min<size_t>(static_cast<size_t>(gen_.top_logprobs), raw.size());
  std::vector<int32_t> ids(raw.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return raw[a] > raw[b] || (raw[a] == raw[b] && a < b); });
  for (size_t i = 0; i < k; ++i) out.top.emplace_back(ids[i], raw[static_cast<size_t>(ids[i])] - log_z);
  return out;
}

std::optional<FinishReason> ActiveRequest::CheckLimits() const {
  if (request_.num_output_tokens() >= gen_.max_tokens) return FinishReason::kLength;
  if (request_.num_tokens() >= ctx_size_) return FinishReason::kLength;
  return std::nullopt;
}

void ActiveRequest::SampleNext(std::span<float> logits) {
  if (gen_.top_logprobs >= 0) raw_logits_.assign(logits.begin(), logits.end());
  if (gen_.json_object) MaskForJson(logits);
  if (gen_.json_object && std::all_of(logits.begin(), logits.end(), [](float v) { return std::isinf(v); })) {
    Finish(FinishReason::kStop);  // nothing in the vocabulary can continue the object
    return;
  }
  const int32_t token = sampler_.Sample(logits);
  sampler_.Accept(token);
  request_.tokens.push_back(token);

  StreamDelta delta;
  delta.num_tokens = 1;
  if (gen_.top_logprobs >= 0) delta.logprobs.push_back(ComputeLogprob(raw_logits_, token));
  const bool end_of_generation = !gen_.ignore_eos && !gen_.json_object && vocab_.IsEndOfGeneration(token);
  std::optional<FinishReason> finish;
  if (end_of_generation) {
    finish = FinishReason::kStop;
  } else {
    const bool json_done = gen_.json_object && json_.Feed(pieces_[token]) && json_.complete();
    const StopMatcher::Result r = stops_.Push(decoder_.Push(pieces_[token]));
    delta.text = r.text;
    stopped_by_string_ = r.stopped;
    if (r.stopped || json_done) finish = FinishReason::kStop;
    else finish = CheckLimits();
  }
  gen_.sink->OnDelta(std::move(delta));
  if (finish.has_value()) Finish(*finish);
}

void ActiveRequest::Finish(FinishReason reason, std::string error) {
  if (finished_) return;
  finished_ = true;
  StreamDelta last;
  if (!stopped_by_string_ && reason != FinishReason::kAbort && reason != FinishReason::kError) {
    last.text = stops_.Push(decoder_.Flush()).text + stops_.Flush();
  }
  last.finished = true;
  last.finish_reason = reason;
  last.error = std::move(error);
  last.usage.prompt_tokens = request_.num_prompt_tokens;
  last.usage.completion_tokens = request_.num_output_tokens();
  last.usage.cached_prompt_tokens = request_.num_cached_prompt_tokens;
  gen_.sink->OnDelta(std::move(last));
}

}  // namespace tf
