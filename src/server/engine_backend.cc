#include "server/engine_backend.h"

#include <fmt/format.h>

namespace tf {

Status EngineBackend::AddModel(const ServedModel& model, Engine* engine) {
  for (const Entry& e : entries_) {
    if (e.model->name == model.name) return InvalidArgumentError(fmt::format("model '{}' is served twice", model.name));
  }
  entries_.push_back({std::make_unique<ServedModel>(model), engine});
  return Status::Ok();
}

std::vector<const ServedModel*> EngineBackend::models() const {
  std::vector<const ServedModel*> out;
  for (const Entry& e : entries_) out.push_back(e.model.get());
  return out;
}

StatusOr<uint64_t> EngineBackend::Submit(const ServedModel& model, GenerationRequest request) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].model.get() != &model) continue;
    TF_ASSIGN_OR_RETURN(uint64_t handle, entries_[i].engine->Submit(std::move(request)));
    return (static_cast<uint64_t>(i) << kIndexShift) | handle;
  }
  return NotFoundError(fmt::format("model '{}' is not served here", model.name)).WithParam("model");
}

void EngineBackend::Abort(uint64_t handle) {
  const uint64_t index = handle >> kIndexShift;
  if (index < entries_.size()) entries_[index].engine->Abort(handle & ((uint64_t{1} << kIndexShift) - 1));
}

EngineStats EngineBackend::Stats() const {
  EngineStats sum;
  for (const Entry& e : entries_) {
    const EngineStats s = e.engine->stats();
    sum.num_running += s.num_running;
    sum.num_waiting += s.num_waiting;
    sum.kv_blocks_used += s.kv_blocks_used;
    sum.kv_blocks_total += s.kv_blocks_total;
    sum.kv_blocks_cached += s.kv_blocks_cached;
    sum.prefix_query_tokens += s.prefix_query_tokens;
    sum.prefix_hit_tokens += s.prefix_hit_tokens;
    sum.num_preemptions += s.num_preemptions;
    sum.num_steps += s.num_steps;
    sum.prompt_tokens_computed += s.prompt_tokens_computed;
    sum.generated_tokens += s.generated_tokens;
    sum.remote_fills += s.remote_fills;
    sum.remote_filled_tokens += s.remote_filled_tokens;
    sum.remote_fill_failures += s.remote_fill_failures;
    sum.remote_fill_bytes += s.remote_fill_bytes;
    sum.blocks_exported += s.blocks_exported;
    sum.store += s.store;
  }
  return sum;
}

BackendHealth EngineBackend::Health() const {
  if (entries_.empty()) return {false, "no model is served", ""};
  for (const Entry& e : entries_) {
    if (!e.engine->alive()) return {false, fmt::format("the engine of '{}' has stopped", e.model->name), ""};
  }
  return {true, "", ""};
}

}  // namespace tf
