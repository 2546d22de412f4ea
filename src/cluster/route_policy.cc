#include "cluster/route_policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace tf {

StatusOr<RouterMode> ParseRouterMode(const std::string& name) {
  if (name == "kv") return RouterMode::kKv;
  if (name == "round-robin") return RouterMode::kRoundRobin;
  if (name == "least-loaded") return RouterMode::kLeastLoaded;
  return InvalidArgumentError(fmt::format("--router-mode {}: use kv, round-robin or least-loaded", name));
}

const char* RouterModeName(RouterMode mode) {
  switch (mode) {
    case RouterMode::kKv: return "kv";
    case RouterMode::kRoundRobin: return "round-robin";
    case RouterMode::kLeastLoaded: return "least-loaded";
  }
  return "?";
}

size_t ChooseWorker(RouterMode mode, double overlap_weight, int64_t prompt_blocks,
                    std::span<const RouteCandidate> candidates, uint64_t* round_robin) {
  if (mode == RouterMode::kRoundRobin) return (*round_robin)++ % candidates.size();
  size_t best = 0;
  double best_cost = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const RouteCandidate& c = candidates[i];
    double cost;
    if (mode == RouterMode::kKv) {
      const int64_t to_prefill = std::max<int64_t>(0, prompt_blocks - c.cached_blocks);
      cost = overlap_weight * static_cast<double>(to_prefill) + static_cast<double>(c.active_blocks);
    } else {
      cost = static_cast<double>(c.active_requests) * 1e9 + static_cast<double>(c.active_blocks);
    }
    const RouteCandidate& b = candidates[best];
    const bool better = i == 0 || cost < best_cost ||
                        (cost == best_cost && (c.active_requests < b.active_requests ||
                                               (c.active_requests == b.active_requests && c.kv_usage < b.kv_usage)));
    if (better) {
      best = i;
      best_cost = cost;
    }
  }
  return best;
}

}  // namespace tf
