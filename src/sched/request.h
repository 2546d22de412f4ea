// A request as the scheduler sees it: tokens so far (prompt, then output)
// and how many of them are already in the KV cache. There are no prefill
// or decode modes: a request simply has num_computed_tokens < num_tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/kv_manager.h"

namespace tf {

// kLoading: holds blocks that the KV store or a prefill worker is filling;
// neither waits nor runs.
enum class RequestState { kWaiting, kLoading, kRunning, kFinished };

struct Request {
  SeqId seq_id = 0;                 // unique for the engine's lifetime
  std::vector<int32_t> tokens;      // prompt followed by output tokens
  int64_t num_prompt_tokens = 0;
  int64_t num_computed_tokens = 0;  // tokens whose K/V are in the cache
  int64_t num_cached_prompt_tokens = 0;  // of the prompt, found in the prefix cache
  int num_preemptions = 0;
  // Chained hashes of the full blocks of tokens[0, num_tokens - 1), the
  // ones a prefix cache can share; filled at admission.
  std::vector<BlockHash> block_hashes;
  bool store_probed = false;  // looked up in the KV store once already
  bool refilled = false;      // back from a store load; the next attach is not a new lookup
  // A prefill worker fills the prompt's KV (disaggregation): asked once, at
  // the first admission that finds positions to fill.
  bool wants_remote_fill = false;
  int64_t num_remote_filled_tokens = 0;
  RequestState state = RequestState::kWaiting;

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_output_tokens() const { return num_tokens() - num_prompt_tokens; }
  int64_t num_pending_tokens() const { return num_tokens() - num_computed_tokens; }
};

}  // namespace tf
