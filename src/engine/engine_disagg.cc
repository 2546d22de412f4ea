// The engine's two sides of prefill/decode disaggregation: a decode
// request's prompt filled by a prefill worker (through EngineConfig::kv_fills),
// and a prefill-only request's blocks exported as its steps compute them.
#include <algorithm>

#include "base/check.h"
#include "base/logging.h"
#include "engine/engine.h"

namespace tf {

KvStorageInfo Engine::kv_storage_info() const {
  const KvStorage& kv = runner_->kv();
  return {static_cast<uint32_t>(kv.type()), static_cast<uint32_t>(kv.block_size()), kv.block_bytes()};
}

void Engine::StartFills(std::vector<RemoteFill>& fills) {
  for (RemoteFill& f : fills) {
    const SeqId seq = f.request->seq_id;
    ActiveRequest* r = by_seq_.at(seq);
    KvFillJob job;
    job.remote = *r->generation().remote_prefill;
    job.kv_fingerprint = kv_fingerprint_;
    job.tokens.assign(f.request->tokens.begin(), f.request->tokens.begin() + f.num_tokens);
    job.first_block = f.first_block;
    job.blocks = std::move(f.blocks);
    job.hashes = std::move(f.hashes);
    job.store = store_.get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++fills_in_flight_;
    }
    ++counters_.remote_fills;
    r->fill_id = config_.kv_fills->StartFill(std::move(job), &runner_->kv(), [this, seq](KvFillResult result) {
      std::lock_guard<std::mutex> lock(mu_);
      fills_done_.emplace_back(seq, std::move(result));
      --fills_in_flight_;
      wake_.notify_one();
    });
  }
}

void Engine::TakeFills() {
  std::vector<std::pair<SeqId, KvFillResult>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(fills_done_);
  }
  for (auto& [seq, result] : done) {
    const auto it = by_seq_.find(seq);
    int64_t num_tokens_filled = result.num_tokens_filled;
    if (it != by_seq_.end()) {
      it->second->fill_id.reset();
      const Request& req = *it->second->request();
      // Never the last token: its step yields the first output's logits.
      const int64_t most = req.num_tokens() - 1 - req.num_computed_tokens;
      num_tokens_filled = std::clamp<int64_t>(num_tokens_filled, 0, most);
      if (!result.status.ok()) {
        ++counters_.remote_fill_failures;
        TF_LOG_WARN("engine: the prefill worker's transfer fell short after {} of {} tokens ({}); computing the rest here",
                    num_tokens_filled, most, result.status.message());
      }
    }
    counters_.remote_filled_tokens += num_tokens_filled;
    counters_.remote_fill_bytes += result.bytes_received;
    const int64_t full_blocks = num_tokens_filled / kv_.block_size();
    const size_t num_hashes = std::min(result.filled_hashes.size(), static_cast<size_t>(full_blocks));
    scheduler_.OnFillDone(seq, std::span<const BlockHash>(result.filled_hashes.data(), num_hashes), num_tokens_filled);
  }
}

void Engine::ExportComputedBlocks(const SchedulerOutput& out) {
  const int64_t bs = kv_.block_size();
  std::vector<ActiveRequest*> done;
  for (const ScheduledSeq& s : out.seqs) {
    ActiveRequest* r = by_seq_.at(s.request->seq_id);
    if (!r->prefill_only()) continue;
    const Request& req = *s.request;
    const bool complete = req.num_computed_tokens == req.num_tokens();
    const int64_t full_blocks = req.num_tokens() / bs;
    if (r->export_hashes.empty() && full_blocks > 0) r->export_hashes = kv_.ChainHashes(req.tokens, full_blocks);
    const int64_t end_block = complete ? (req.num_tokens() + bs - 1) / bs : req.num_computed_tokens / bs;
    const std::span<const int32_t> table = kv_.block_table(req.seq_id);
    const GenerationRequest& gen = r->generation();
    for (int64_t b = std::max(r->num_exported_blocks, gen.export_from_block); b < end_block; ++b) {
      const int32_t num_tokens = static_cast<int32_t>(std::min(bs, req.num_tokens() - b * bs));
      std::vector<uint8_t> payload = gen.kv_exporter->NewPayload(runner_->kv().block_bytes());
      const Status exported = runner_->kv().ExportBlock(table[b], payload);
      TF_CHECK(exported.ok()) << exported.message();
      gen.kv_exporter->OnBlock(b, num_tokens, b < full_blocks ? r->export_hashes[b] : BlockHash{}, std::move(payload));
      ++counters_.blocks_exported;
    }
    r->num_exported_blocks = std::max(r->num_exported_blocks, end_block);
    if (complete) done.push_back(r);
  }
  for (ActiveRequest* r : done) FinishRequest(r, FinishReason::kLength);
}

void Engine::StopFills() {
  if (config_.kv_fills == nullptr) return;
  std::unique_lock<std::mutex> lock(mu_);
  // Requests were finished (their fills cancelled) on the way out; a fill
  // writes into this engine's blocks until its done has run.
  wake_.wait(lock, [&] { return fills_in_flight_ == 0; });
  fills_done_.clear();
}

}  // namespace tf
