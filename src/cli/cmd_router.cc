// `tokenfab router`: one OpenAI-compatible endpoint in front of every worker
// registered in etcd. Reads only the vocabulary and chat template of each
// -m model (no weights), builds prompts exactly as `serve` does, and routes
// token ids to workers (cluster/router_backend.h). SIGINT/SIGTERM drains.
#include <chrono>
#include <filesystem>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "base/logging.h"
#include "cli/cli_common.h"
#include "cli/command.h"
#include "cluster/kv_event_subscriber.h"
#include "cluster/registry_watcher.h"
#include "cluster/router_backend.h"
#include "jinja/chat_template.h"
#include "server/api_server.h"

namespace tf {
namespace {

struct RouterCliOptions {
  std::vector<std::string> models;
  std::vector<std::string> served_model_names;
  std::string etcd = "http://127.0.0.1:2379";
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string router_mode = "kv";
  int migration_limit = 3;
  int64_t disagg_min_tokens = 256;
  int64_t max_prefill_queue = 8;
  double prefill_deadline_s = 30;
  std::string kv_transfer_path = "auto";
  double overlap_weight = 1.0;
  double upstream_timeout_s = 120;
  std::string cluster_key_file;
  std::string api_key;
  std::string worker_api_key;
  double shutdown_timeout_s = 30;
};

// One -m model's tokenizer and template; its weights stay on disk.
struct RouterModel {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ChatTemplate> chat_template;
};

StatusOr<RouterModel> LoadRouterModel(const std::string& path, ServedModel* served, std::string* fingerprint) {
  RouterModel m;
  ModelSource source;
  source.path = path;
  TF_ASSIGN_OR_RETURN(m.file, OpenGguf(source));
  TF_ASSIGN_OR_RETURN(m.tokenizer, Tokenizer::FromGguf(*m.file));
  TF_ASSIGN_OR_RETURN(const std::string template_source, m.file->GetStringOr("tokenizer.chat_template", ""));
  if (!template_source.empty()) {
    TF_ASSIGN_OR_RETURN(m.chat_template, ChatTemplate::Parse(template_source));
  }
  TF_ASSIGN_OR_RETURN(const ModelFingerprint fp, FingerprintModel(source));
  *fingerprint = fp.key;
  served->tokenizer = m.tokenizer.get();
  served->chat_template = m.chat_template.get();
  served->reasoning = TemplateUsesThinking(template_source);
  served->n_vocab = m.tokenizer->vocab().size();
  served->ctx_size = 4096;  // until workers say what they hold
  served->created_unix =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return m;
}

Status Run(const RouterCliOptions& o) {
  if (o.models.empty()) return InvalidArgumentError("router: give at least one -m MODEL.gguf");
  if (!o.served_model_names.empty() && o.served_model_names.size() != o.models.size()) {
    return InvalidArgumentError("router: give one --served-model-name per -m, or none");
  }
  RouterOptions options;
  TF_ASSIGN_OR_RETURN(options.mode, ParseRouterMode(o.router_mode));
  options.migration_limit = o.migration_limit;
  options.disagg_min_tokens = o.disagg_min_tokens;
  options.max_prefill_queue = o.max_prefill_queue;
  options.prefill_deadline = std::chrono::milliseconds(static_cast<int64_t>(o.prefill_deadline_s * 1000));
  options.transfer_via_store = o.kv_transfer_path == "auto";
  options.overlap_weight = o.overlap_weight;
  options.upstream_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.upstream_timeout_s * 1000));
  options.worker_api_key = o.worker_api_key;
  std::optional<ClusterKey> key;
  if (!o.cluster_key_file.empty()) {
    TF_ASSIGN_OR_RETURN(ClusterKey k, ClusterKey::Load(o.cluster_key_file));
    key = k;
    options.key = k;
  } else {
    TF_LOG_WARN("router: no --cluster-key: the cluster runs open (any registry entry is trusted, calls to workers are unsigned)");
    fmt::print(stderr, "tokenfab router: warning: no --cluster-key; the cluster runs open\n");
  }
  TF_ASSIGN_OR_RETURN(EtcdClient etcd, EtcdClient::FromUrl(o.etcd));

  boost::asio::io_context io(1);
  RouterBackend backend(&io, options);
  std::vector<RouterModel> loaded;
  for (size_t i = 0; i < o.models.size(); ++i) {
    ServedModel served;
    served.name = o.served_model_names.empty() ? std::filesystem::path(o.models[i]).stem().string() : o.served_model_names[i];
    std::string fingerprint;
    StatusOr<RouterModel> m = LoadRouterModel(o.models[i], &served, &fingerprint);
    if (!m.ok()) return m.status().WithContext(o.models[i]);
    loaded.push_back(std::move(*m));
    TF_RETURN_IF_ERROR(backend.AddModel(served, fingerprint));
    fmt::print(stderr, "tokenfab router: model '{}' ({})\n", served.name, fingerprint);
  }

  ApiServerOptions server_options;
  server_options.api_key = o.api_key;
  ApiServer server(&io, server_options);
  TF_RETURN_IF_ERROR(server.Listen(o.host, static_cast<uint16_t>(o.port)));
  KvEventSubscriber subscriber([&io, &backend](const std::string& endpoint, KvEventBatch batch) {
    boost::asio::post(io, [&backend, endpoint, batch = std::move(batch)]() mutable { backend.OnKvBatch(endpoint, std::move(batch)); });
  });
  backend.set_on_kv_endpoints([&subscriber](std::set<std::string> endpoints) { subscriber.SetEndpoints(std::move(endpoints)); });
  RegistryWatcher watcher(etcd, key, [&io, &backend](const RegistrySnapshot& snapshot) {
    boost::asio::post(io, [&backend, snapshot] { backend.OnRegistry(snapshot); });
  });
  backend.Start();
  server.SetBackend(&backend);
  subscriber.Start();
  watcher.Start();
  fmt::print(stderr, "tokenfab router: listening on http://{}:{} (etcd {}, mode {}, migration limit {})\n", o.host,
             server.port(), etcd.url(), RouterModeName(options.mode), options.migration_limit);

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    fmt::print(stderr, "tokenfab router: signal {}: draining {} requests\n", signal, server.num_in_flight());
    server.Shutdown(std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_timeout_s * 1000)), [&] { io.stop(); });
  });
  io.run();
  watcher.Stop();
  subscriber.Stop();
  backend.Stop();
  fmt::print(stderr, "tokenfab router: stopped\n");
  return Status::Ok();
}

}  // namespace

CommandFn RegisterRouterCommand(CLI::App* app, const GlobalOptions*) {
  auto o = std::make_shared<RouterCliOptions>();
  CLI::App* cmd = app->add_subcommand("router", "Serve the OpenAI API in front of every worker registered in etcd");
  cmd->add_option("-m,--model", o->models, "GGUF model (its vocabulary and chat template); repeat for several")->required();
  cmd->add_option("--served-model-name", o->served_model_names, "Model id per -m (default: file stem), as workers serve it");
  cmd->add_option("--etcd", o->etcd, "etcd URL (default http://127.0.0.1:2379)");
  cmd->add_option("--host", o->host, "Address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "TCP port (default 8080; 0 picks a free one)")->check(CLI::Range(0, 65535));
  cmd->add_option("--router-mode", o->router_mode, "kv (default), round-robin or least-loaded");
  cmd->add_option("--migration-limit", o->migration_limit, "Moves of one request to another worker before it fails (default 3)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--overlap-weight", o->overlap_weight, "Weight of blocks to prefill against running blocks (default 1)")
      ->check(CLI::Range(0.0, 1000.0));
  cmd->add_option("--upstream-timeout", o->upstream_timeout_s, "Seconds of worker silence before a request moves (default 120)")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--disagg-min-tokens", o->disagg_min_tokens,
                  "Uncached prompt tokens above which a request goes to a prefill worker (default 256)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--max-prefill-queue", o->max_prefill_queue,
                  "Prefills in flight per prefill worker before decode workers prefill themselves (default 8)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--prefill-deadline", o->prefill_deadline_s,
                  "Seconds a decode worker waits for a prefill worker's KV before computing it (default 30)")
      ->check(CLI::Range(0.1, 600.0));
  cmd->add_option("--kv-transfer-path", o->kv_transfer_path,
                  "auto (a pair sharing a --kv-store directory moves blocks through it) or tcp (always bytes)")
      ->check(CLI::IsMember({"auto", "tcp"}));
  cmd->add_option("--cluster-key", o->cluster_key_file, "File with the cluster's shared secret");
  cmd->add_option("--api-key", o->api_key, "Require 'Authorization: Bearer KEY' from clients");
  cmd->add_option("--worker-api-key", o->worker_api_key, "Bearer key for workers' internal routes (without --cluster-key)");
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s, "Seconds to let requests finish on SIGTERM (default 30)")
      ->check(CLI::Range(0.0, 3600.0));
  return [o] { return Run(*o); };
}

}  // namespace tf
