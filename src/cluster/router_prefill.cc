// RouterBackend's disaggregation rule: which requests get a prefill worker,
// and which one (by the KV-aware cost over prefill workers, each charged
// with the prefills this router has in flight there).
#include <algorithm>

#include <fmt/format.h>

#include "cluster/router_backend.h"

namespace tf {

void RouterBackend::PlanPrefill(Routed& r, const Worker& w, GenerationRequest* g) {
  const int64_t bs = std::max(1, w.entry.block_size);
  const bool fresh = g->continued.empty();
  std::vector<BlockHash> hashes;
  int64_t uncached = static_cast<int64_t>(g->prompt.size());
  if (fresh) {
    hashes = ChainBlockHashes(RootBlockHash(w.entry.kv_fingerprint), g->prompt, static_cast<int>(bs),
                              static_cast<int64_t>(g->prompt.size()) / bs);
    uncached -= kv_index_.Overlap(w.entry.address, hashes) * bs;
  }
  if (!fresh || uncached <= options_.disagg_min_tokens) {
    ++counters_.path_local_prefill;
    return;
  }
  Worker* p = PickPrefillWorker(r, w, hashes);
  if (p == nullptr) {
    // No compatible prefill worker with room: the decode worker computes it.
    bool any_alive = false;
    for (const auto& [address, cand] : workers_) {
      if (cand.model == r.model && cand.entry.role == "prefill") any_alive = true;
    }
    if (!any_alive && r.model->had_prefill_workers) {
      ++counters_.path_fallback;
    } else {
      ++counters_.path_local_prefill;
    }
    return;
  }
  ++counters_.path_disaggregated;
  ++p->active_prefills;
  r.prefill_worker = p->entry.address;
  const bool shared_store = !p->entry.kv_store.empty() && p->entry.kv_store == w.entry.kv_store;
  g->remote_prefill =
      RemotePrefill{p->entry.kv_transfer, options_.prefill_deadline.count(), shared_store && options_.transfer_via_store};
}

RouterBackend::Worker* RouterBackend::PickPrefillWorker(const Routed& r, const Worker& decode,
                                                        const std::vector<BlockHash>& hashes) {
  std::vector<Worker*> pool;
  for (auto& [address, p] : workers_) {
    // Blocks move byte for byte: the KV format must be the decode worker's.
    if (p.model != r.model || p.entry.role != "prefill" || p.entry.kv_transfer.empty() ||
        p.entry.kv_fingerprint != decode.entry.kv_fingerprint || p.entry.block_size != decode.entry.block_size ||
        p.active_prefills >= options_.max_prefill_queue || r.excluded.count(address) != 0) {
      continue;
    }
    pool.push_back(&p);
  }
  if (pool.empty()) return nullptr;
  std::vector<RouteCandidate> candidates;
  const int64_t bs = std::max(1, decode.entry.block_size);
  const int64_t prompt_blocks = (static_cast<int64_t>(r.request.prompt.size()) + bs - 1) / bs;
  for (Worker* p : pool) {
    RouteCandidate c;
    c.cached_blocks = options_.mode == RouterMode::kKv ? kv_index_.Overlap(p->entry.address, hashes) : 0;
    c.active_blocks = p->active_blocks;
    c.active_requests = p->active_prefills;
    c.kv_usage = static_cast<double>(kv_index_.num_blocks(p->entry.address)) /
                 static_cast<double>(std::max<int64_t>(1, p->entry.kv_capacity_blocks));
    candidates.push_back(c);
  }
  return pool[ChooseWorker(options_.mode, options_.overlap_weight, prompt_blocks, candidates, &round_robin_)];
}

void RouterBackend::ReleasePrefill(Routed& r) {
  if (r.prefill_worker.empty()) return;
  if (auto it = workers_.find(r.prefill_worker); it != workers_.end()) {
    it->second.active_prefills = std::max<int64_t>(0, it->second.active_prefills - 1);
  }
  r.prefill_worker.clear();
}

}  // namespace tf
