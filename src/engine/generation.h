// What a client asks the engine for, and what the engine streams back.
// The server builds GenerationRequests from OpenAI JSON; the engine thread
// calls the request's sink with each piece of output.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kv/block_hash.h"
#include "sample/sampling_params.h"

namespace tf {

enum class FinishReason { kStop, kLength, kAbort, kError };
const char* FinishReasonName(FinishReason reason);  // "stop", "length", "abort", "error"

struct TokenLogprob {
  int32_t token = 0;
  std::string piece;  // the token's bytes
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely alternatives, best first
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served by the prefix cache
};

struct StreamDelta {
  std::string text;                   // new output text (valid UTF-8, stop strings withheld)
  std::vector<TokenLogprob> logprobs; // one per token this delta covers, when requested
  int64_t num_tokens = 0;             // output tokens this delta covers
  int32_t token = -1;                 // the output token's id, when num_tokens is 1
  uint64_t num_draws = 0;             // random draws the sampler has made so far
  bool finished = false;
  FinishReason finish_reason = FinishReason::kStop;
  std::string error;  // with kError
  Usage usage;        // filled on the final delta
};

// Receives a request's output. Called on the engine thread; must not block.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnDelta(StreamDelta delta) = 0;
};

// A prefill worker's side of disaggregation: receives the KV of a
// prefill-only request's prompt blocks as they are computed, on the engine
// thread, in order. Must not block.
class KvBlockExporter {
 public:
  virtual ~KvBlockExporter() = default;
  // Prompt block `index` holds `num_tokens` computed positions (the block
  // size, or fewer for the last block); `hash` is a full block's chained
  // hash (zero for a partial one); `payload` is KvStorage::ExportBlock's.
  virtual void OnBlock(int64_t index, int32_t num_tokens, const BlockHash& hash, std::vector<uint8_t> payload) = 0;
  // A buffer of `bytes` for the next block's payload (its contents are
  // overwritten): an exporter may hand back recycled ones, sparing the
  // engine thread an allocation, zero fill and page faults per block.
  // Engine thread.
  virtual std::vector<uint8_t> NewPayload(size_t bytes) { return std::vector<uint8_t>(bytes); }
};

// A decode worker's side: the prompt's KV is computed by a prefill worker
// and pushed into blocks this engine reserves (EngineConfig::kv_fills).
struct RemotePrefill {
  std::string peer;         // host:port of the prefill worker's KV transfer server
  int64_t deadline_ms = 0;  // for the whole transfer; 0: the source's default
  // Both workers share a KV store directory: full blocks travel through it
  // (the prefill worker persists, the frame carries the hash).
  bool via_store = false;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 16;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  int top_logprobs = -1;     // -1: no logprobs; 0..20: chosen token plus that many alternatives
  bool json_object = false;  // constrain output to one JSON object
  // A continuation of an interrupted generation (request migration): the
  // output tokens an earlier attempt already streamed, and the random draws
  // its sampler had made. They extend the context, count against neither
  // prompt nor max_tokens, and their text is not streamed again; stop
  // strings, the JSON constraint, penalties and the sampler's generator are
  // brought to the state they were in after them.
  std::vector<int32_t> continued;
  uint64_t num_draws_done = 0;
  // Prefill only (a prefill worker's request): computes the whole prompt's
  // KV, samples nothing, and hands prompt blocks from `export_from_block` on
  // to the exporter; the sink gets one final delta (finish reason length).
  std::shared_ptr<KvBlockExporter> kv_exporter;
  int64_t export_from_block = 0;
  // Decode with a remote prefill: the prompt's positions but the last are
  // filled by the named prefill worker (what is cached here is not asked
  // for); whatever the transfer does not deliver is computed here.
  std::optional<RemotePrefill> remote_prefill;
  std::shared_ptr<RequestSink> sink;
};

inline constexpr int kMaxTopLogprobs = 20;

// Every check a request's parameters get, in one place: the prompt (not
// empty, ids in the vocabulary, room for one generated token), max_tokens,
// top_logprobs, stop strings and the sampling parameters. An error names
// the parameter as data (Status::param(), "prompt" for the prompt) and, for
// an over-long prompt, reason() "context_length_exceeded".
Status ValidateGenerationRequest(const GenerationRequest& request, int64_t n_vocab, int64_t ctx_size);

}  // namespace tf
