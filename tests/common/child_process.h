// Real processes for multi-process tests: a child with its stderr and
// stdout in a log file, killed (SIGKILL) when the handle goes; a free
// loopback port; a real etcd on its own ports and data directory.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/fixtures.h"

namespace tf::testing {

// A TCP port nobody listens on right now (bound once, then released).
inline uint16_t FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(std::vector<std::string> args, const std::string& log_name) { Start(std::move(args), log_name); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { Kill(SIGKILL); }

  void Start(std::vector<std::string> args, const std::string& log_name) {
    log_ = TempPath(log_name + ".log");
    // Emptied before the fork, so nothing reads an earlier process's log as this one's.
    ::close(::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      // Nothing of the test's (sockets to servers under test) leaks into the child.
      for (int other = 3; other < 4096; ++other) ::close(other);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return true;
    exit_status_ = status;
    pid_ = -1;
    return false;
  }
  void Signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
  }
  // Sends `signal`, reaps the process; its wait status.
  int Kill(int signal) {
    if (pid_ > 0) {
      ::kill(pid_, signal);
      ::waitpid(pid_, &exit_status_, 0);
      pid_ = -1;
    }
    return exit_status_;
  }
  // Waits up to `timeout` for the process to exit by itself.
  bool WaitExit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  int exit_status() const { return exit_status_; }
  pid_t pid() const { return pid_; }
  std::string log() const { return ReadFile(log_); }
  // The first capture of `pattern` in the log within `timeout`, or "".
  std::string WaitForLog(const std::string& pattern, std::chrono::milliseconds timeout) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
      if (!running()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "";
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = 0;
  std::string log_;
};

// A real etcd (Debian's etcd-server) on free loopback ports with its own
// data directory; Restart keeps the data (members and leases survive).
class EtcdProcess {
 public:
  // `listen_all`: also reachable from network namespaces (0.0.0.0).
  explicit EtcdProcess(const std::string& name, bool listen_all = false) : name_(name), listen_all_(listen_all) {
    data_dir_ = TempPath(name + "-data");
    std::filesystem::remove_all(data_dir_);
    client_port_ = FreeLoopbackPort();
    peer_port_ = FreeLoopbackPort();
  }
  ~EtcdProcess() {
    process_.Kill(SIGKILL);
    std::filesystem::remove_all(data_dir_);
  }
  // Starts it and waits until it answers; false if it did not.
  bool Start() {
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    const std::string listen = listen_all_ ? "http://0.0.0.0:" + std::to_string(client_port_) : client;
    process_.Start({"etcd", "--name", name_, "--data-dir", data_dir_, "--listen-client-urls", listen,
                    "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", name_ + "=" + peer, "--log-level", "warn"},
                   name_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!process_.running()) return false;
      if (Answers()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void Kill() { process_.Kill(SIGKILL); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  uint16_t port() const { return client_port_; }
  std::string log() const { return process_.log(); }

 private:
  bool Answers() const {
    // The port opens before the member is ready to serve: ask it something
    // (a range of one key) and look for its header in the reply.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(client_port_);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (ok) {
      const std::string body = "{\"key\":\"AA==\"}";
      const std::string request = "POST /v3/kv/range HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body;
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
      std::string reply;
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, static_cast<size_t>(n));
      ok = reply.rfind("HTTP/1.1 200", 0) == 0 && reply.find("\"revision\"") != std::string::npos;
    }
    ::close(fd);
    return ok;
  }
  std::string name_;
  bool listen_all_ = false;
  std::string data_dir_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  ChildProcess process_;
};

}  // namespace tf::testing
