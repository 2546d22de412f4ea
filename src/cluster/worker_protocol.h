// The router ↔ worker wire format of POST /internal/v1/generate: the request
// as token ids (prompt, continued output, draws already made, sampling and
// stop parameters), and the reply as SSE `data:` events, one per delta:
//   {"text", "n", "token", "draws", "logprobs":[{"token","logprob","top":[[id,lp],...]}],
//    "finished", "finish_reason", "error", "usage":{"prompt_tokens","completion_tokens","cached_tokens"}}
// Both directions are parsed as untrusted input: every field typed and
// bounded, errors naming the field.
#pragma once

#include <string>

#include "base/status.h"
#include "engine/generation.h"

namespace tf {

inline constexpr const char* kInternalGeneratePath = "/internal/v1/generate";
inline constexpr const char* kInternalKvBlocksPath = "/internal/v1/kv_blocks";

struct WorkerGenerateRequest {
  std::string model;
  GenerationRequest generation;  // without a sink
};

std::string WorkerGenerateRequestToJson(const std::string& model, const GenerationRequest& request);
// Bounds: at most `max_tokens_in` prompt + continued ids.
StatusOr<WorkerGenerateRequest> ParseWorkerGenerateRequest(const std::string& json, size_t max_tokens_in);

// One delta as the JSON of one SSE event (no "data: " framing).
std::string StreamDeltaToJson(const StreamDelta& delta);
// Pieces of logprobs are left empty (the router fills them from its
// tokenizer).
StatusOr<StreamDelta> ParseStreamDelta(const std::string& json);

}  // namespace tf
