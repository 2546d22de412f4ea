#include "engine/active_request.h"

#include <algorithm>
#include <cmath>

#include "sample/logits_processors.h"

namespace tf {

ActiveRequest::ActiveRequest(uint64_t id, SeqId seq_id, GenerationRequest gen, const Vocab& vocab,
                           const TextPieces& pieces, int64_t ctx_size)
    : id_(id), gen_(std::move(gen)), vocab_(vocab), pieces_(pieces), ctx_size_(ctx_size),
      sampler_(gen_.sampling, static_cast<int64_t>(vocab.size())), stops_(gen_.stop) {
  request_.seq_id = seq_id;
  request_.tokens = gen_.prompt;
  sampler_.SetPrompt(gen_.prompt);
  ReplayContinued();
  request_.num_prompt_tokens = static_cast<int64_t>(request_.tokens.size());
}

// The earlier attempt streamed these tokens' text already: only the state
// they leave behind is kept (held-back stop-string prefixes, a partial UTF-8
// sequence, the JSON recognizer, penalties, the generator's position).
void ActiveRequest::ReplayContinued() {
  for (const int32_t token : gen_.continued) {
    sampler_.Accept(token);
    request_.tokens.push_back(token);
    if (gen_.json_object) json_.Feed(pieces_[token]);
    stops_.Push(decoder_.Push(pieces_[token]));
  }
  sampler_.SkipDraws(gen_.num_draws_done);
}

TokenLogprob ActiveRequest::ComputeLogprob(std::span<const float> raw, int32_t token) const {
  LogprobsOfToken lp = LogprobsOf(raw, token, gen_.top_logprobs);
  TokenLogprob out;
  out.token = token;
  out.piece = pieces_[token];
  out.logprob = lp.logprob;
  out.top = std::move(lp.top);
  return out;
}

std::optional<FinishReason> ActiveRequest::CheckLimits() const {
  if (request_.num_output_tokens() >= gen_.max_tokens) return FinishReason::kLength;
  if (request_.num_tokens() >= ctx_size_) return FinishReason::kLength;
  return std::nullopt;
}

void ActiveRequest::SampleNext(std::span<float> logits) {
  if (gen_.top_logprobs >= 0) raw_logits_.assign(logits.begin(), logits.end());
  if (gen_.json_object) MaskTokensBreakingJson(json_, pieces_.all(), logits);
  if (gen_.json_object && std::all_of(logits.begin(), logits.end(), [](float v) { return std::isinf(v); })) {
    Finish(FinishReason::kStop);  // nothing in the vocabulary can continue the object
    return;
  }
  const int32_t token = sampler_.Sample(logits);
  sampler_.Accept(token);
  request_.tokens.push_back(token);

  StreamDelta delta;
  delta.num_tokens = 1;
  delta.token = token;
  delta.num_draws = sampler_.num_draws();
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
  last.num_draws = sampler_.num_draws();
  last.usage.prompt_tokens = static_cast<int64_t>(gen_.prompt.size());
  last.usage.completion_tokens = request_.num_output_tokens() + static_cast<int64_t>(gen_.continued.size());
  last.usage.cached_prompt_tokens = request_.num_cached_prompt_tokens;
  gen_.sink->OnDelta(std::move(last));
}

}  // namespace tf
