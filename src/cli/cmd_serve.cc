// `tokenfab serve`: the OpenAI-compatible server. Listens at once (health
// answers 503 "loading" until the model is ready), loads the model on a
// side thread, then serves until SIGINT/SIGTERM, when it stops accepting,
// lets in-flight requests finish for --shutdown-timeout, aborts the rest
// and exits 0.
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <unistd.h>

#include <fmt/format.h>

#include "base/logging.h"
#include "cli/cli_common.h"
#include "cli/command.h"
#include "engine/engine.h"
#include "gguf/gguf_override.h"
#include "cluster/http_call.h"
#include "cluster/kv_event_publisher.h"
#include "cluster/kv_transfer_client.h"
#include "cluster/kv_transfer_server.h"
#include "cluster/worker_endpoints.h"
#include "cluster/worker_registration.h"
#include "server/api_server.h"
#include "server/engine_backend.h"

namespace tf {
namespace {

struct ServeOptions {
  ModelSource model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t ctx_size = 0;
  int max_num_seqs = 64;
  int64_t max_batch_tokens = 512;
  int64_t max_queue = 256;
  double kv_cache_gib = 0;
  std::string kv_type = "f32";
  int block_size = 16;
  std::string api_key;
  std::string chat_template_file;
  std::string served_model_name;
  double shutdown_timeout_s = 30;
  double read_timeout_s = 30;
  int64_t max_body_bytes = 8 << 20;
  bool no_prefix_cache = false;
  bool no_shared_prefix_wait = false;
  std::string prefill_order = "auto";  // auto: shortest with --role prefill, else oldest
  int64_t prefill_chunk_beside_decodes = -1;  // -1: 8 with --role decode, else no cap
  std::string kv_store_dir;
  double kv_store_gib = 0;
  // Cluster membership (cluster/): registry, KV events, internal routes.
  std::string etcd;
  std::string advertise;
  int64_t lease_ttl_s = 10;
  std::string cluster_key_file;
  int kv_events_port = 0;  // with --etcd; 0: any free port
  // Disaggregation: what the router sends here, and where prefill workers
  // take KV transfer connections (-1: none; a prefill worker defaults to 0,
  // any free port).
  std::string role = "both";
  int kv_transfer_port = -1;
  std::string kv_transfer_advertise;  // what the registry says; default the bound address
  double kv_transfer_timeout_s = 30;
};

// Without --kv-store-gib: half the space free where the store lives, at
// most 16 GiB.
double DefaultStoreGib(const std::string& dir) {
  struct statvfs fs {};
  std::string probe = dir;
  while (::statvfs(probe.c_str(), &fs) != 0) {
    const std::string parent = std::filesystem::path(probe).parent_path().string();
    if (parent.empty() || parent == probe) return 16;
    probe = parent;
  }
  const double free_gib = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize) / (1ull << 30);
  return std::max(1.0 / 1024, std::min(16.0, free_gib / 2));
}

// Lets the server hold as many connections as the hard limit allows.
void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Everything the served model owns; built on the loader thread.
struct ServingState {
  LoadedModel loaded;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<ChatTemplate> chat_template;
  std::unique_ptr<KvEventPublisher> kv_events;  // with --etcd
  std::unique_ptr<KvTransferClient> kv_fills;   // decode side; outlives the engine
  std::unique_ptr<Engine> engine;
  std::unique_ptr<KvTransferServer> kv_transfer;  // prefill side; stopped before the engine
  EngineBackend backend;
  WorkerEntry entry;  // what the registry gets (address filled in by Run)
};

// The prefill side: a KV transfer server for the engine's model.
Status StartKvTransfer(const ServeOptions& o, const ClusterKey* key, ServingState* state) {
  const bool wanted = o.role == "prefill" || o.kv_transfer_port >= 0;
  if (!wanted) return Status::Ok();
  KvTransferServerOptions options;
  options.host = o.host;
  options.port = static_cast<uint16_t>(std::max(0, o.kv_transfer_port));
  options.key = key;
  Engine* engine = state->engine.get();
  const KvStorageInfo info = engine->kv_storage_info();
  KvTransferTarget target{engine->kv_fingerprint(), info.kv_type, info.block_size, info.block_bytes,
                          [engine](GenerationRequest r) { return engine->Submit(std::move(r)); },
                          [engine](uint64_t h) { engine->Abort(h); }, nullptr};
  if (BlockStore* store = engine->shared_store()) {
    // The shared-store path: written now, not through the write-through
    // queue (which skips blocks under pressure).
    target.persist = [store](const BlockHash& parent, std::span<const int32_t> tokens, std::span<const uint8_t> payload,
                             const BlockHash& hash) {
      return store->InIndex(hash) ? Status::Ok() : store->Write(parent, tokens, payload);
    };
  }
  options.targets.push_back(std::move(target));
  TF_ASSIGN_OR_RETURN(state->kv_transfer, KvTransferServer::Start(std::move(options)));
  KvTransferServer* server = state->kv_transfer.get();
  state->backend.SetExtraMetrics([server] { return RenderKvTransferServerMetrics(server->stats()); });
  return Status::Ok();
}

StatusOr<std::unique_ptr<ServingState>> LoadServing(const ServeOptions& o, const GlobalOptions& g,
                                                    const ClusterKey* key) {
  auto state = std::make_unique<ServingState>();
  state->pool = std::make_unique<ThreadPool>(ResolveThreads(g.threads));
  TF_ASSIGN_OR_RETURN(state->loaded, OpenModel(o.model, state->pool.get()));
  const Model& model = *state->loaded.model;
  std::string source;
  if (!o.chat_template_file.empty()) {
    TF_ASSIGN_OR_RETURN(source, ReadWholeFile(o.chat_template_file));
  } else {
    TF_ASSIGN_OR_RETURN(source, state->loaded.file->GetStringOr("tokenizer.chat_template", ""));
  }
  if (!source.empty()) {
    TF_ASSIGN_OR_RETURN(state->chat_template, ChatTemplate::Parse(source));
  }

  EngineConfig config;
  TF_ASSIGN_OR_RETURN(config.kv_type, ParseKvType(o.kv_type));
  config.block_size = o.block_size;
  const int64_t trained = model.config().n_ctx_train > 0 ? model.config().n_ctx_train : 4096;
  config.ctx_size = o.ctx_size > 0 ? o.ctx_size : std::min<int64_t>(trained, 4096);
  config.sched.max_num_seqs = o.max_num_seqs;
  config.sched.max_batch_tokens = o.max_batch_tokens;
  config.sched.max_queue = o.max_queue;
  config.prefix_cache = !o.no_prefix_cache;
  config.sched.wait_for_shared_prefix = !o.no_shared_prefix_wait;
  config.sched.shortest_prefill_first =
      o.prefill_order == "shortest" || (o.prefill_order == "auto" && o.role == "prefill");
  config.sched.max_prefill_tokens_beside_decodes =
      o.prefill_chunk_beside_decodes >= 0 ? o.prefill_chunk_beside_decodes : (o.role == "decode" ? 8 : 0);
  config.kv_store_dir = o.kv_store_dir;
  if (!o.kv_store_dir.empty()) {
    config.kv_store_gib = o.kv_store_gib > 0 ? o.kv_store_gib : DefaultStoreGib(o.kv_store_dir);
  }
  const double token_bytes = static_cast<double>(model.kv_layout().bytes_per_token(config.kv_type));
  // Default pool: every sequence at full context, capped at 4 GiB.
  const double bytes = o.kv_cache_gib > 0
                           ? o.kv_cache_gib * (1ull << 30)
                           : std::min(4.0 * (1ull << 30), token_bytes * static_cast<double>(config.ctx_size) *
                                                              (o.max_num_seqs + 1));
  config.num_kv_blocks = KvBlocksForBytes(model, config.kv_type, config.block_size, bytes);
  config.sched.watermark_blocks = std::max<int64_t>(1, config.num_kv_blocks / 100);
  // The prefix-cache keys start from the model's content (the same model at
  // two paths shares keys, another one over the same path does not) and its
  // metadata overrides, which change what the cached KV means.
  TF_ASSIGN_OR_RETURN(const ModelFingerprint fingerprint, FingerprintModel(o.model));
  TF_LOG_INFO("model fingerprint {} ({} in {:.3f} s)", fingerprint.key,
              fingerprint.content.from_cache ? "cached" : "computed", fingerprint.content.seconds);
  if (!o.etcd.empty()) {
    TF_ASSIGN_OR_RETURN(state->kv_events, KvEventPublisher::Bind(o.host, o.kv_events_port, config.block_size));
    config.kv_events = state->kv_events.get();
  }
  if (o.role != "prefill") {
    KvTransferClientOptions fill_options;
    fill_options.key = key;
    fill_options.default_deadline_ms = static_cast<int64_t>(o.kv_transfer_timeout_s * 1000);
    state->kv_fills = std::make_unique<KvTransferClient>(fill_options);
    config.kv_fills = state->kv_fills.get();
  }
  TF_ASSIGN_OR_RETURN(state->engine, Engine::Create(state->loaded.model.get(), state->loaded.tokenizer.get(),
                                                    state->pool.get(), config, fingerprint.key));
  ServedModel s;
  s.name = o.served_model_name.empty() ? std::filesystem::path(o.model.path).stem().string() : o.served_model_name;
  s.tokenizer = state->loaded.tokenizer.get();
  s.chat_template = state->chat_template.get();
  s.reasoning = TemplateUsesThinking(source);
  s.ctx_size = config.ctx_size;
  s.n_vocab = model.config().n_vocab;
  s.created_unix = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  TF_RETURN_IF_ERROR(state->backend.AddModel(s, state->engine.get()));
  TF_RETURN_IF_ERROR(StartKvTransfer(o, key, state.get()));
  state->entry.model = s.name;
  state->entry.role = o.role;
  if (!o.kv_store_dir.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    std::error_code ec;
    const auto dir = std::filesystem::canonical(o.kv_store_dir, ec);
    state->entry.kv_store = fmt::format("{}:{}", host, ec ? o.kv_store_dir : dir.string());
  }
  state->entry.fingerprint = fingerprint.key;
  state->entry.kv_fingerprint = state->engine->kv_fingerprint();
  state->entry.kv_type = o.kv_type;
  state->entry.block_size = config.block_size;
  state->entry.kv_capacity_blocks = config.num_kv_blocks;
  state->entry.ctx_size = config.ctx_size;
  state->entry.n_vocab = s.n_vocab;
  if (const BlockStore* store = state->engine->store()) {
    fmt::print(stderr, "tokenfab serve: KV store {}: {} block files, {:.3f} of {:.2f} GiB (scanned in {:.3f} s)\n",
               store->options().dir, store->num_files(), static_cast<double>(store->size_bytes()) / (1ull << 30),
               static_cast<double>(store->options().capacity_bytes) / (1ull << 30), store->last_scan_seconds());
  }
  fmt::print(stderr, "tokenfab serve: model '{}' ready: ctx {} tokens, KV pool {} blocks x {} tokens ({:.2f} GiB {}), "
                     "max {} sequences, {} tokens per step, {} threads\n",
             s.name, config.ctx_size, config.num_kv_blocks, config.block_size,
             token_bytes * config.block_size * config.num_kv_blocks / (1ull << 30), o.kv_type, o.max_num_seqs,
             o.max_batch_tokens, state->pool->num_threads());
  return state;
}

// host:port routers reach this worker at.
StatusOr<std::string> AdvertisedAddress(const ServeOptions& o, uint16_t port) {
  if (!o.advertise.empty()) {
    TF_RETURN_IF_ERROR(ParseHostPort(o.advertise).status().WithContext("--advertise"));
    return o.advertise;
  }
  if (!o.etcd.empty() && (o.host == "0.0.0.0" || o.host == "::")) {
    return InvalidArgumentError(fmt::format("--host {} is not an address routers can reach: give --advertise HOST:PORT", o.host));
  }
  return o.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", o.host, port) : fmt::format("{}:{}", o.host, port);
}

// The KV-event endpoint routers reach: the bound address, or with a
// wildcard --host the advertised host and the bound port. (--advertise may
// name a proxy for HTTP; events go straight to the worker.)
std::string AdvertisedKvEvents(const ServeOptions& o, const std::string& advertise, const std::string& bound) {
  if (o.host != "0.0.0.0" && o.host != "::") return bound;
  const auto host = ParseHostPort(advertise);
  const auto port = ParseHostPort(bound);
  if (!host.ok() || !port.ok()) return bound;
  return fmt::format("{}:{}", host->first, port->second);
}

Status Run(const ServeOptions& o, const GlobalOptions& g) {
  if (o.port < 0 || o.port > 65535) return InvalidArgumentError(fmt::format("--port {} is not a TCP port", o.port));
  std::error_code fs_error;
  if (!std::filesystem::is_regular_file(o.model.path, fs_error)) {
    return NotFoundError(fmt::format("--model {}: no such file", o.model.path));
  }
  if (!o.chat_template_file.empty() && !std::filesystem::is_regular_file(o.chat_template_file, fs_error)) {
    return NotFoundError(fmt::format("--chat-template-file {}: no such file", o.chat_template_file));
  }
  RaiseFileLimit();
  boost::asio::io_context io(1);
  ApiServerOptions options;
  options.api_key = o.api_key;
  options.http.read_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.read_timeout_s * 1000));
  options.http.max_body_bytes = static_cast<size_t>(o.max_body_bytes);
  ApiServer server(&io, options);
  TF_RETURN_IF_ERROR(server.Listen(o.host, static_cast<uint16_t>(o.port)));
  std::optional<ClusterKey> cluster_key;
  if (!o.cluster_key_file.empty()) {
    TF_ASSIGN_OR_RETURN(ClusterKey k, ClusterKey::Load(o.cluster_key_file));
    cluster_key = k;
  }
  std::optional<EtcdClient> etcd;
  if (!o.etcd.empty()) {
    TF_ASSIGN_OR_RETURN(EtcdClient client, EtcdClient::FromUrl(o.etcd));
    etcd = client;
    if (!cluster_key) fmt::print(stderr, "tokenfab serve: warning: no --cluster-key; the cluster runs open\n");
  }
  TF_ASSIGN_OR_RETURN(const std::string advertise, AdvertisedAddress(o, server.port()));
  if (!o.kv_transfer_advertise.empty()) {
    TF_RETURN_IF_ERROR(ParseHostPort(o.kv_transfer_advertise).status().WithContext("--kv-transfer-advertise"));
  }
  WorkerEndpoints endpoints(&io, cluster_key, o.api_key);
  server.SetInternalHandler([&endpoints](const std::shared_ptr<HttpExchange>& ex, const std::string& path) {
    endpoints.Handle(ex, path);
  });
  std::unique_ptr<WorkerRegistration> registration;
  fmt::print(stderr, "tokenfab serve: listening on http://{}:{} (loading {})\n", o.host, server.port(), o.model.path);

  std::unique_ptr<ServingState> state;
  Status load_status = Status::Ok();
  std::thread loader([&] {
    auto loaded = LoadServing(o, g, cluster_key ? &*cluster_key : nullptr);
    boost::asio::post(io, [&, loaded = std::move(loaded)]() mutable {
      if (!loaded.ok()) {
        load_status = loaded.status();
        io.stop();
        return;
      }
      state = std::move(*loaded);
      server.SetBackend(&state->backend);
      endpoints.SetBackend(&state->backend);
      endpoints.SetKvEvents(state->kv_events.get());
      if (etcd) {
        state->entry.address = advertise;
        state->entry.kv_events = state->kv_events ? AdvertisedKvEvents(o, advertise, state->kv_events->endpoint()) : "";
        if (state->kv_transfer) {
          state->entry.kv_transfer =
              !o.kv_transfer_advertise.empty()
                  ? o.kv_transfer_advertise
                  : AdvertisedKvEvents(o, advertise, fmt::format("{}:{}", o.host, state->kv_transfer->port()));
        }
        registration = std::make_unique<WorkerRegistration>(*etcd, state->entry, o.lease_ttl_s, cluster_key);
        registration->Start();
        fmt::print(stderr, "tokenfab serve: registering {} at {} (lease TTL {} s, KV events on {})\n",
                   state->entry.Key(), etcd->url(), o.lease_ttl_s, state->entry.kv_events);
      }
    });
  });

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    // Out of the registry first, so routers stop sending, then drain.
    if (registration) registration->Revoke();
    fmt::print(stderr, "tokenfab serve: signal {}: draining {} requests (up to {} s)\n", signal,
               server.num_in_flight() + endpoints.num_in_flight(), o.shutdown_timeout_s);
    server.Shutdown(std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_timeout_s * 1000)), [&] { io.stop(); });
  });
  io.run();
  loader.join();
  if (registration) registration->Revoke();
  if (state && state->kv_transfer) state->kv_transfer->Stop();
  if (state) state->engine->Shutdown();
  if (!load_status.ok()) return load_status;
  fmt::print(stderr, "tokenfab serve: stopped\n");
  return Status::Ok();
}

}  // namespace

CommandFn RegisterServeCommand(CLI::App* app, const GlobalOptions* global) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app->add_subcommand("serve", "Serve a model over an OpenAI-compatible HTTP API");
  AddModelSourceOptions(cmd, &o->model, "GGUF model");
  cmd->add_option("--host", o->host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "TCP port (default 8080; 0 picks a free one)");
  cmd->add_option("-c,--ctx-size", o->ctx_size, "Most tokens one request may hold (default: min(trained, 4096))")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 24));
  cmd->add_option("--max-num-seqs", o->max_num_seqs, "Requests running at once (default 64)")->check(CLI::Range(1, 4096));
  cmd->add_option("--max-batch-tokens", o->max_batch_tokens, "Tokens per forward pass (default 512)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--max-queue", o->max_queue, "Waiting requests before answering 429 (default 256)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--kv-cache-gib", o->kv_cache_gib, "KV cache pool size (default: all sequences at full context, <= 4)")
      ->check(CLI::Range(0.0, 4096.0));
  cmd->add_option("--kv-type", o->kv_type, "KV cache element type: f32 or bf16");
  cmd->add_option("--block-size", o->block_size, "Tokens per KV block (default 16)")->check(CLI::Range(1, 1024));
  cmd->add_option("--api-key", o->api_key, "Require 'Authorization: Bearer KEY' on every route but /health");
  cmd->add_option("--chat-template-file", o->chat_template_file, "Jinja chat template instead of the model's");
  cmd->add_option("--served-model-name", o->served_model_name, "Model id to report and accept (default: file stem)");
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s, "Seconds to let requests finish on SIGTERM (default 30)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--read-timeout", o->read_timeout_s, "Seconds to receive a whole request (default 30)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--max-body-bytes", o->max_body_bytes, "Largest request body (default 8 MiB)")
      ->check(CLI::Range(int64_t{1024}, int64_t{1} << 30));
  cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "Do not reuse KV blocks across requests");
  cmd->add_flag("--no-shared-prefix-wait", o->no_shared_prefix_wait,
                "Let concurrent requests each compute a prefix they share instead of waiting for the first");
  cmd->add_option("--prefill-order", o->prefill_order,
                  "Which prompt a step computes first: oldest, shortest (remaining tokens, waiting prompts included) "
                  "or auto (default: shortest with --role prefill, oldest otherwise); decodes always come first")
      ->check(CLI::IsMember({"auto", "oldest", "shortest"}));
  cmd->add_option("--prefill-chunk-beside-decodes", o->prefill_chunk_beside_decodes,
                  "Prompt tokens a step may compute while requests are decoding, so their next token is not "
                  "stalled by a long prompt (0: only --max-batch-tokens; default 8 with --role decode, else 0)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--kv-store", o->kv_store_dir,
                  "Directory of a persistent KV block store, shared with other tokenfab processes (must not be "
                  "writable by other users)");
  cmd->add_option("--kv-store-gib", o->kv_store_gib,
                  "Capacity of the KV store directory (default: half its free space, at most 16)")
      ->check(CLI::Range(0.0, 1048576.0));
  cmd->add_option("--etcd", o->etcd, "Register this worker in etcd at URL (http://HOST:PORT) for `tokenfab router`");
  cmd->add_option("--advertise", o->advertise, "HOST:PORT routers reach this worker at (default --host:--port)");
  cmd->add_option("--lease-ttl", o->lease_ttl_s, "Seconds the registry entry outlives a silent worker (default 10)")
      ->check(CLI::Range(int64_t{2}, int64_t{3600}));
  cmd->add_option("--cluster-key", o->cluster_key_file, "File with the cluster's shared secret (signs entries, checks calls)");
  cmd->add_option("--role", o->role, "What the router sends here: prefill, decode or both (default both)")
      ->check(CLI::IsMember({"prefill", "decode", "both"}));
  cmd->add_option("--kv-transfer-port", o->kv_transfer_port,
                  "TCP port prefill workers take KV transfer connections on (default: any free one with --role prefill)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--kv-transfer-advertise", o->kv_transfer_advertise,
                  "HOST:PORT decode workers reach the KV transfer server at (default: the bound address)");
  cmd->add_option("--kv-transfer-timeout", o->kv_transfer_timeout_s,
                  "Seconds a decode worker waits for a prompt's KV before computing it itself (default 30)")
      ->check(CLI::Range(0.1, 600.0));
  cmd->add_option("--kv-events-port", o->kv_events_port, "ZMQ PUB port for KV events with --etcd (default 0: any free)")
      ->check(CLI::Range(0, 65535));
  return [o, global] { return Run(*o, *global); };
}

}  // namespace tf
