// The engine's side of one request: scheduler state plus everything that
// turns logits into streamed text (sampler, UTF-8 assembly, stop strings,
// the JSON constraint, logprobs). Lives on the engine thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/generation.h"
#include "sample/json_constraint.h"
#include "sample/sampler.h"
#include "sample/stop_matcher.h"
#include "engine/text_pieces.h"
#include "sched/request.h"
#include "tokenizer/text_stream_decoder.h"
#include "tokenizer/vocab.h"

namespace tf {

class ActiveRequest {
 public:
  ActiveRequest(uint64_t id, SeqId seq_id, GenerationRequest gen, const Vocab& vocab, const TextPieces& pieces,
               int64_t ctx_size);

  uint64_t id() const { return id_; }
  Request* request() { return &request_; }
  const Request& request() const { return request_; }
  bool finished() const { return finished_; }
  const GenerationRequest& generation() const { return gen_; }
  // A prefill-only request (gen.kv_exporter): computes its prompt, samples nothing.
  bool prefill_only() const { return gen_.kv_exporter != nullptr; }
  // Export progress of a prefill-only request: prompt blocks handed to the
  // exporter so far, and the chained hashes of the prompt's full blocks.
  int64_t num_exported_blocks = 0;
  std::vector<BlockHash> export_hashes;
  // The fill of a decode request whose prompt a prefill worker computes.
  std::optional<uint64_t> fill_id;

  // Chooses the next token from its logits row (modified), appends it and
  // streams the text it completes; finishes on end of generation, a stop
  // string, max_tokens, the context size or a completed JSON object.
  void SampleNext(std::span<float> logits);
  // Ends the request and sends the final delta (flushing held-back text
  // unless a stop string ended it).
  void Finish(FinishReason reason, std::string error = "");

 private:
  TokenLogprob ComputeLogprob(std::span<const float> raw_logits, int32_t token) const;
  std::optional<FinishReason> CheckLimits() const;
  void ReplayContinued();

  uint64_t id_;
  Request request_;
  GenerationRequest gen_;
  const Vocab& vocab_;
  const TextPieces& pieces_;
  int64_t ctx_size_;
  Sampler sampler_;
  TextStreamDecoder decoder_;
  StopMatcher stops_;
  JsonRecognizer json_;
  std::vector<float> raw_logits_;
  bool finished_ = false;
  bool stopped_by_string_ = false;
};

}  // namespace tf
