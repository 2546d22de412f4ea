// Which worker gets a request. kv (Dynamo's cost): overlap_weight × the
// prompt blocks the worker would have to prefill (those its cache lacks) +
// the blocks of the requests this router has running there; lowest wins,
// ties go to the fewest active requests, then to the emptiest cache (so a
// prefix nobody holds lands where it evicts least), then the first listed.
// round-robin: in turn. least-loaded: fewest active requests, then fewest
// active blocks.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/status.h"

namespace tf {

enum class RouterMode { kKv, kRoundRobin, kLeastLoaded };
StatusOr<RouterMode> ParseRouterMode(const std::string& name);
const char* RouterModeName(RouterMode mode);

struct RouteCandidate {
  int64_t cached_blocks = 0;    // leading prompt blocks the worker holds
  int64_t active_blocks = 0;    // blocks of this router's requests running there
  int64_t active_requests = 0;
  double kv_usage = 0;          // cached blocks the router knows of / the worker's KV capacity
};

// An index into `candidates` (not empty). `round_robin` is the policy's
// counter, advanced when used.
size_t ChooseWorker(RouterMode mode, double overlap_weight, int64_t prompt_blocks,
                    std::span<const RouteCandidate> candidates, uint64_t* round_robin);

}  // namespace tf
