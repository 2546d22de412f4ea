// What the OpenAI layer needs from whatever generates tokens: the models it
// serves, submit, abort, stats and health. An in-process engine plugs in
// today (engine_backend.h); a router over remote workers plugs into the same
// server code next. Calls come from the server's io thread; implementations
// deliver output through each request's sink.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "engine/generation.h"
#include "server/served_model.h"

namespace tf {

struct BackendHealth {
  bool ok = false;
  std::string message;  // why not, when !ok
  std::string degraded;  // serving, but with a fault worth reporting (e.g. a router that lost etcd)
};

class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;

  // The models served, by name (the first is the default when a request
  // names none). The pointers stay valid for the backend's lifetime.
  virtual std::vector<const ServedModel*> models() const = 0;
  // Queues a request for `model` (one of models()). Errors carry the
  // offending parameter as Status::param(): invalid parameters
  // (InvalidArgument), a full queue (ResourceExhausted), a stopped backend
  // (Unavailable).
  virtual StatusOr<uint64_t> Submit(const ServedModel& model, GenerationRequest request) = 0;
  // Ends a request within a step (its sink gets finish reason abort);
  // unknown or finished handles are ignored.
  virtual void Abort(uint64_t handle) = 0;
  // Summed over the models, for /metrics.
  virtual EngineStats Stats() const = 0;
  virtual BackendHealth Health() const = 0;
  // Extra Prometheus text for /metrics (a router's counters).
  virtual std::string ExtraMetrics() const { return ""; }
};

}  // namespace tf
