#include "cluster/router_backend.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "base/logging.h"
#include "cluster/worker_protocol.h"
#include "engine/engine.h"

namespace tf {
namespace {

namespace http = boost::beast::http;

}  // namespace

RouterBackend::RouterBackend(boost::asio::io_context* io, RouterOptions options) : io_(io), options_(std::move(options)) {}

RouterBackend::~RouterBackend() { Stop(); }

Status RouterBackend::AddModel(const ServedModel& model, const std::string& fingerprint) {
  for (const auto& m : models_) {
    if (m->served->name == model.name) return InvalidArgumentError(fmt::format("model '{}' is given twice", model.name));
  }
  auto slot = std::make_unique<ModelSlot>();
  slot->served = std::make_unique<ServedModel>(model);
  slot->fingerprint = fingerprint;
  models_.push_back(std::move(slot));
  return Status::Ok();
}

void RouterBackend::Start() {
  tick_ = std::make_unique<boost::asio::steady_timer>(*io_);
  Tick();
}

void RouterBackend::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (tick_) tick_->cancel();
  std::vector<uint64_t> handles;
  for (const auto& [h, r] : requests_) handles.push_back(h);
  for (uint64_t h : handles) {
    if (auto it = requests_.find(h); it != requests_.end()) FinishWithError(*it->second, "the router is stopping");
  }
}

std::vector<const ServedModel*> RouterBackend::models() const {
  std::vector<const ServedModel*> out;
  for (const auto& m : models_) out.push_back(m->served.get());
  return out;
}

void RouterBackend::OnRegistry(const RegistrySnapshot& snapshot) {
  registry_seen_ = true;
  etcd_ok_ = snapshot.etcd_ok;
  etcd_error_ = snapshot.etcd_error;
  if (!snapshot.etcd_ok) return;  // keep routing to the last known workers
  std::map<std::string, Worker> next;
  for (const auto& [key, entry] : snapshot.workers) {
    ModelSlot* slot = nullptr;
    for (const auto& m : models_) {
      if (m->served->name == entry.model) slot = m.get();
    }
    if (slot == nullptr) continue;  // a model this router does not serve
    if (entry.fingerprint != slot->fingerprint) {
      ++counters_.refused_entries;
      TF_LOG_WARN("registry: refusing {}: its model fingerprint {} is not this router's {} (a different file?)", key,
                  entry.fingerprint, slot->fingerprint);
      continue;
    }
    StatusOr<std::pair<std::string, uint16_t>> hp = ParseHostPort(entry.address);
    if (!hp.ok()) continue;
    Worker w;
    const auto old = workers_.find(entry.address);
    const bool rejoined = old == workers_.end() || old->second.entry.kv_events != entry.kv_events ||
                          old->second.entry.kv_fingerprint != entry.kv_fingerprint;
    if (old != workers_.end()) w = old->second;
    w.entry = entry;
    w.model = slot;
    if (entry.role == "prefill") slot->had_prefill_workers = true;
    w.host = hp->first;
    w.port = hp->second;
    if (rejoined && !entry.kv_events.empty() && kv_index_.Reset(entry.address)) FetchSnapshot(entry.address);
    next[entry.address] = std::move(w);
  }
  for (const auto& [address, w] : workers_) {
    if (next.count(address) == 0) kv_index_.Remove(address);
  }
  workers_ = std::move(next);
  // The context the router admits is the smallest any worker of the model holds.
  for (const auto& m : models_) {
    int64_t ctx = 0;
    for (const auto& [address, w] : workers_) {
      if (w.model == m.get()) ctx = ctx == 0 ? w.entry.ctx_size : std::min(ctx, w.entry.ctx_size);
    }
    if (ctx > 0) m->served->ctx_size = ctx;
  }
  PublishKvEndpoints();
}

void RouterBackend::PublishKvEndpoints() {
  kv_endpoint_to_worker_.clear();
  std::set<std::string> endpoints;
  for (const auto& [address, w] : workers_) {
    if (w.entry.kv_events.empty()) continue;
    kv_endpoint_to_worker_[w.entry.kv_events] = address;
    endpoints.insert(w.entry.kv_events);
  }
  if (on_kv_endpoints_) on_kv_endpoints_(std::move(endpoints));
}

void RouterBackend::OnKvBatch(const std::string& kv_endpoint, KvEventBatch batch) {
  const auto it = kv_endpoint_to_worker_.find(kv_endpoint);
  if (it == kv_endpoint_to_worker_.end()) return;
  if (kv_index_.OnBatch(it->second, std::move(batch))) FetchSnapshot(it->second);
}

std::vector<std::pair<std::string, std::string>> RouterBackend::AuthHeaders(const std::string& method,
                                                                            const std::string& target,
                                                                            const std::string& body) const {
  if (options_.key) return {{kClusterAuthHeader, options_.key->AuthHeaderValue(method, target, body, UnixNowSeconds())}};
  if (!options_.worker_api_key.empty()) return {{"Authorization", "Bearer " + options_.worker_api_key}};
  return {};
}

void RouterBackend::FetchSnapshot(const std::string& address) {
  const auto it = workers_.find(address);
  if (it == workers_.end()) return kv_index_.OnSnapshotFailed(address);
  HttpCallSpec spec;
  spec.host = it->second.host;
  spec.port = it->second.port;
  spec.method = http::verb::get;
  spec.target = kInternalKvBlocksPath;
  spec.headers = AuthHeaders("GET", spec.target, "");
  spec.connect_timeout = options_.connect_timeout;
  spec.idle_timeout = std::chrono::milliseconds(10000);
  auto body = std::make_shared<std::string>();
  auto status = std::make_shared<int>(0);
  HttpCallCallbacks cb;
  cb.on_header = [status](int s, const auto&) { *status = s; };
  cb.on_body = [body](std::string_view bytes) {
    if (body->size() + bytes.size() > (size_t{64} << 20)) return false;
    body->append(bytes);
    return true;
  };
  cb.on_done = [this, address, body, status](const Status& s) {
    if (stopped_) return;
    StatusOr<KvSnapshot> snapshot = s.ok() && *status == 200 ? ParseKvSnapshot(*body)
                                                             : StatusOr<KvSnapshot>(UnavailableError(s.message()));
    if (!snapshot.ok()) {
      TF_LOG_WARN("kv index: snapshot of {} failed (HTTP {}): {}", address, *status, snapshot.status().message());
      kv_index_.OnSnapshotFailed(address);
      return;
    }
    if (workers_.count(address) == 0) return kv_index_.OnSnapshotFailed(address);
    if (kv_index_.OnSnapshot(address, std::move(*snapshot))) FetchSnapshot(address);
  };
  StartHttpCall(io_, std::move(spec), std::move(cb));
}

void RouterBackend::Tick() {
  if (stopped_) return;
  const auto now = std::chrono::steady_clock::now();
  std::vector<uint64_t> silent;
  for (const auto& [handle, r] : requests_) {
    // A worker whose lease went and that has said nothing for the grace
    // period is treated as dead (a drained worker keeps streaming).
    if (r->upstream && workers_.count(r->worker) == 0 && now - r->upstream->last_byte() > options_.lease_loss_grace) {
      silent.push_back(handle);
    }
  }
  for (uint64_t h : silent) {
    if (auto it = requests_.find(h); it != requests_.end()) {
      Routed& r = *it->second;
      r.upstream->Cancel();
      r.upstream.reset();
      r.excluded.insert(r.worker);
      Move(r, fmt::format("worker {} left the registry and went silent", r.worker));
    }
  }
  for (const auto& [address, w] : workers_) {
    if (!w.entry.kv_events.empty() && kv_index_.ClaimSnapshot(address)) FetchSnapshot(address);
  }
  counters_.kv_resyncs = kv_index_.num_resyncs();
  tick_->expires_after(std::chrono::milliseconds(250));
  tick_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

BackendHealth RouterBackend::Health() const {
  if (stopped_) return {false, "the router is stopping", ""};
  BackendHealth h;
  if (workers_.empty()) {
    h.ok = false;
    h.message = etcd_ok_ ? "no worker is registered" : fmt::format("no known worker (etcd: {})", etcd_error_);
    return h;
  }
  h.ok = true;
  if (!etcd_ok_) h.degraded = fmt::format("etcd is unreachable ({}); routing to the last {} known workers", etcd_error_,
                                          workers_.size());
  return h;
}

EngineStats RouterBackend::Stats() const {
  EngineStats s;
  s.num_running = static_cast<int64_t>(requests_.size());
  return s;
}

RouterCounters RouterBackend::counters() const { return counters_; }

std::string RouterBackend::ExtraMetrics() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, int64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  out += "# HELP tokenfab_router_requests_total Dispatches to workers by where the prompt is computed\n"
         "# TYPE tokenfab_router_requests_total counter\n";
  out += fmt::format("tokenfab_router_requests_total{{path=\"disaggregated\"}} {}\n", counters_.path_disaggregated);
  out += fmt::format("tokenfab_router_requests_total{{path=\"local_prefill\"}} {}\n", counters_.path_local_prefill);
  out += fmt::format("tokenfab_router_requests_total{{path=\"fallback\"}} {}\n", counters_.path_fallback);
  counter("tokenfab_router_routed_total", "Requests accepted for routing", counters_.routed);
  counter("tokenfab_router_migrations_total", "Requests moved to another worker mid-stream", counters_.migrations);
  counter("tokenfab_router_busy_redirects_total", "429/503 answers sent on to another worker", counters_.busy_redirects);
  counter("tokenfab_router_failed_total", "Requests that failed after the migration limit", counters_.failed);
  counter("tokenfab_router_kv_resyncs_total", "KV index snapshots fetched", kv_index_.num_resyncs());
  out += fmt::format("# HELP tokenfab_router_workers Workers in the routing table\n# TYPE tokenfab_router_workers gauge\n"
                     "tokenfab_router_workers {}\n", workers_.size());
  out += fmt::format("# HELP tokenfab_router_etcd_up Whether etcd answers\n# TYPE tokenfab_router_etcd_up gauge\n"
                     "tokenfab_router_etcd_up {}\n", etcd_ok_ ? 1 : 0);
  return out;
}

}  // namespace tf
