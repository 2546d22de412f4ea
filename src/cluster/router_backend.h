// The generation backend of `tokenfab router`: the OpenAI server's requests
// (already token ids) go to workers found in the registry, chosen by the
// route policy over the KV index; deltas come back with token ids and
// sampler draws, so when a worker dies mid-stream (connection reset,
// deadline, its lease gone and the stream silent) the request moves to
// another worker as a continuation and the client's stream goes on. A
// worker answering 429/503 sends the request to the next one. Io thread
// only, except where noted.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cluster/cluster_key.h"
#include "cluster/http_call.h"
#include "cluster/kv_index.h"
#include "cluster/registry_watcher.h"
#include "cluster/route_policy.h"
#include "cluster/upstream_stream.h"
#include "server/generation_backend.h"

namespace tf {

struct RouterOptions {
  RouterMode mode = RouterMode::kKv;
  double overlap_weight = 1.0;
  int migration_limit = 3;                             // moves of one request before it fails
  std::chrono::milliseconds upstream_timeout{120000};  // silence from a worker before the request moves
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds lease_loss_grace{5000};    // silence tolerated from a worker whose lease went
  std::optional<ClusterKey> key;
  std::string worker_api_key;                          // Bearer for workers when there is no cluster key
  // Disaggregation (Dynamo's conditional rule): a fresh request goes to a
  // prefill worker only when more than `disagg_min_tokens` of its prompt are
  // not cached on its decode worker and that prefill worker has fewer than
  // `max_prefill_queue` prefills from this router in flight.
  int64_t disagg_min_tokens = 256;
  int64_t max_prefill_queue = 8;
  std::chrono::milliseconds prefill_deadline{30000};   // the decode worker's wait for the KV
  // A pair sharing a KV store directory moves full blocks through it
  // (hashes on the wire) unless this is off (bytes over TCP always).
  bool transfer_via_store = true;
};

struct RouterCounters {
  int64_t routed = 0;
  int64_t migrations = 0;        // continuations sent after a worker failed mid-request
  int64_t busy_redirects = 0;    // 429/503 answers sent on to another worker
  int64_t failed = 0;            // requests that ended in an error after the migration limit
  int64_t kv_resyncs = 0;
  int64_t refused_entries = 0;   // registry entries for a different model file
  // Dispatches by where the prompt is computed: a prefill worker, the decode
  // worker by the rule (short, cached, continuation, prefill queue full), or
  // the decode worker because no prefill worker was there.
  int64_t path_disaggregated = 0;
  int64_t path_local_prefill = 0;
  int64_t path_fallback = 0;
};

class RouterBackend final : public GenerationBackend {
 public:
  RouterBackend(boost::asio::io_context* io, RouterOptions options);
  ~RouterBackend() override;

  // A model the router serves: `fingerprint` is its content fingerprint,
  // which workers' entries must carry. Before Start.
  Status AddModel(const ServedModel& model, const std::string& fingerprint);
  void Start();
  // Cancels every upstream call (their requests end with an error).
  void Stop();

  void OnRegistry(const RegistrySnapshot& snapshot);
  void OnKvBatch(const std::string& kv_endpoint, KvEventBatch batch);
  // Called with the workers' KV-event endpoints whenever they change.
  void set_on_kv_endpoints(std::function<void(std::set<std::string>)> cb) { on_kv_endpoints_ = std::move(cb); }

  std::vector<const ServedModel*> models() const override;
  StatusOr<uint64_t> Submit(const ServedModel& model, GenerationRequest request) override;
  void Abort(uint64_t handle) override;
  EngineStats Stats() const override;
  BackendHealth Health() const override;
  RouterCounters counters() const;
  std::string ExtraMetrics() const override;  // Prometheus text of the counters above
  int64_t num_workers() const { return static_cast<int64_t>(workers_.size()); }

 private:
  struct ModelSlot {
    std::unique_ptr<ServedModel> served;
    std::string fingerprint;
    bool had_prefill_workers = false;  // a prefill worker registered for it at some point
  };
  struct Worker {
    WorkerEntry entry;
    ModelSlot* model = nullptr;
    std::string host;
    uint16_t port = 0;
    int64_t active_requests = 0;
    int64_t active_blocks = 0;
    int64_t active_prefills = 0;  // prefills sent there whose first token has not come back
  };
  struct Routed {
    uint64_t handle = 0;
    ModelSlot* model = nullptr;
    GenerationRequest request;       // as submitted (its sink is the client's)
    std::vector<int32_t> generated;  // output tokens the client has, over every attempt
    uint64_t num_draws = 0;
    int num_moves = 0;
    std::set<std::string> excluded;  // workers that failed or refused it
    std::string worker;              // address of the current attempt
    int64_t blocks = 0;              // charged to the worker
    std::string prefill_worker;      // address of the attempt's prefill worker, if any
    std::shared_ptr<UpstreamStream> upstream;
  };

  bool HasCandidate(const Routed& r) const;
  // Chooses by the route policy (advancing round-robin's counter).
  Worker* PickWorker(const Routed& r);
  bool Dispatch(Routed& r);
  void Release(Routed& r);
  // router_prefill.cc: whether and where `g`'s prompt is prefilled for
  // decode worker `w` (sets g->remote_prefill), and the prefill's charge
  // taken off its worker (idempotent).
  void PlanPrefill(Routed& r, const Worker& w, GenerationRequest* g);
  Worker* PickPrefillWorker(const Routed& r, const Worker& decode, const std::vector<BlockHash>& hashes);
  void ReleasePrefill(Routed& r);
  void OnDelta(uint64_t handle, StreamDelta delta);
  void OnFailed(uint64_t handle, int http_status, const Status& why);
  void Move(Routed& r, const std::string& why);
  void FinishWithError(Routed& r, const std::string& message);
  // The request's final delta to its client; `r` is erased.
  void End(Routed& r, FinishReason reason, const std::string& error);
  void Tick();
  void FetchSnapshot(const std::string& address);
  std::vector<std::pair<std::string, std::string>> AuthHeaders(const std::string& method, const std::string& target,
                                                               const std::string& body) const;
  void PublishKvEndpoints();

  boost::asio::io_context* io_;
  RouterOptions options_;
  std::vector<std::unique_ptr<ModelSlot>> models_;
  std::map<std::string, Worker> workers_;  // by address
  std::unordered_map<uint64_t, std::unique_ptr<Routed>> requests_;
  uint64_t next_handle_ = 1;
  uint64_t round_robin_ = 0;
  KvIndex kv_index_;
  std::map<std::string, std::string> kv_endpoint_to_worker_;
  bool etcd_ok_ = false;
  bool registry_seen_ = false;
  std::string etcd_error_ = "no answer from etcd yet";
  RouterCounters counters_;
  std::function<void(std::set<std::string>)> on_kv_endpoints_;
  std::unique_ptr<boost::asio::steady_timer> tick_;
  bool stopped_ = false;
};

}  // namespace tf
