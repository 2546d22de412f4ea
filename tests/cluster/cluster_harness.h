// A real cluster for the multi-process tests: etcd, `tokenfab serve`
// workers registered in it and a `tokenfab router`, each a child process on
// its own loopback port, all killed when the harness goes.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "server/test_http.h"

namespace tf::testing {

inline const char* kClusterModel = "models/tiny-llama-spm-q8_0.gguf";

struct WorkerProcess {
  uint16_t port = 0;
  std::vector<std::string> args;
  std::unique_ptr<ChildProcess> process;
};

class Cluster {
 public:
  explicit Cluster(const std::string& name, bool etcd_listen_all = false)
      : name_(name), etcd_(name + "-etcd", etcd_listen_all) {}
  ~Cluster() {
    if (router_) router_->Kill(SIGKILL);
    for (auto& w : workers_) {
      if (w.process) w.process->Kill(SIGKILL);
    }
  }
  bool StartEtcd() { return etcd_.Start(); }
  // The fixture every later worker and the router serve (a path under the fixtures).
  void set_model(const std::string& model) { model_ = model; }
  EtcdProcess& etcd() { return etcd_; }

  // Starts worker `i` (a new one when i == size) on its port; `advertise`
  // puts a proxy between router and worker.
  int AddWorker(const std::vector<std::string>& extra = {}, bool start = true) {
    WorkerProcess w;
    w.port = FreeLoopbackPort();
    w.args = {TOKENFAB_BIN, "serve", "-m", FixturePath(model_), "--port", std::to_string(w.port),
              "--served-model-name", "tiny", "--ctx-size", "1024", "-t", "1", "--etcd", etcd_.url(), "--lease-ttl", "2"};
    w.args.insert(w.args.end(), extra.begin(), extra.end());
    workers_.push_back(std::move(w));
    const int i = static_cast<int>(workers_.size()) - 1;
    if (start) RestartWorker(i);
    return i;
  }
  void RestartWorker(int i) {
    WorkerProcess& w = workers_[i];
    if (w.process) w.process->Kill(SIGKILL);
    w.process = std::make_unique<ChildProcess>(w.args, name_ + "-worker" + std::to_string(i));
  }
  WorkerProcess& worker(int i) { return workers_[i]; }
  // Adds arguments to a worker's command line (for its next start).
  void AddWorkerArgs(int i, const std::vector<std::string>& args) {
    workers_[i].args.insert(workers_[i].args.end(), args.begin(), args.end());
  }
  int num_workers() const { return static_cast<int>(workers_.size()); }

  void StartRouter(const std::vector<std::string>& extra = {}) {
    router_port_ = FreeLoopbackPort();
    std::vector<std::string> args = {TOKENFAB_BIN, "router", "-m", FixturePath(model_), "--served-model-name",
                                     "tiny", "--etcd", etcd_.url(), "--port", std::to_string(router_port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    router_ = std::make_unique<ChildProcess>(args, name_ + "-router");
  }
  uint16_t router_port() const { return router_port_; }
  ChildProcess& router() { return *router_; }

  // Waits until the router routes to exactly `n` workers.
  bool WaitRoutedWorkers(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (router_ && !router_->running()) return false;
      const HttpReply r = Call(router_port_, "GET", "/metrics");
      if (r.status == 200 && r.body.find("tokenfab_router_workers " + std::to_string(n) + "\n") != std::string::npos) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // The first worker with a running request, or -1.
  int BusyWorker() {
    for (int i = 0; i < num_workers(); ++i) {
      if (!workers_[i].process || !workers_[i].process->running()) continue;
      const HttpReply r = Call(workers_[i].port, "GET", "/metrics");
      if (r.status == 200 && r.body.find("\ntokenfab_requests_running 0\n") == std::string::npos &&
          r.body.find("\ntokenfab_requests_running ") != std::string::npos) {
        return i;
      }
    }
    return -1;
  }
  std::string Logs() {
    std::string out = "--- router:\n" + (router_ ? router_->log() : "") + "\n";
    for (int i = 0; i < num_workers(); ++i) out += "--- worker " + std::to_string(i) + ":\n" + (workers_[i].process ? workers_[i].process->log() : "") + "\n";
    return out;
  }

 private:
  std::string name_;
  std::string model_ = kClusterModel;
  EtcdProcess etcd_;
  std::vector<WorkerProcess> workers_;
  std::unique_ptr<ChildProcess> router_;
  uint16_t router_port_ = 0;
};

inline double RouterMetric(uint16_t port, const std::string& name) { return ScrapeMetric(port, name); }

}  // namespace tf::testing
