// The generation backend of `tokenfab serve`: one in-process Engine per
// served model, each with its model description. Handles carry the model's
// index in their top bits, so Abort finds the engine without a table.
#pragma once

#include <functional>

#include <memory>
#include <vector>

#include "server/generation_backend.h"

namespace tf {

class EngineBackend final : public GenerationBackend {
 public:
  // `engine` must outlive the backend; `model.name` must be new.
  Status AddModel(const ServedModel& model, Engine* engine);

  std::vector<const ServedModel*> models() const override;
  StatusOr<uint64_t> Submit(const ServedModel& model, GenerationRequest request) override;
  void Abort(uint64_t handle) override;
  EngineStats Stats() const override;
  BackendHealth Health() const override;
  std::string ExtraMetrics() const override { return extra_metrics_ ? extra_metrics_() : ""; }
  // More /metrics text (a worker's KV transfer server); called per scrape.
  void SetExtraMetrics(std::function<std::string()> render) { extra_metrics_ = std::move(render); }

 private:
  static constexpr int kIndexShift = 48;  // engine handles stay below 2^48
  struct Entry {
    std::unique_ptr<ServedModel> model;
    Engine* engine;
  };
  std::vector<Entry> entries_;
  std::function<std::string()> extra_metrics_;
};

}  // namespace tf
