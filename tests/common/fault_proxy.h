// A fault-injecting TCP proxy for multi-process tests: listens on a free
// loopback port (or a given address) and forwards each connection to a
// target, in one of several modes that can change at any time — pass
// through, add a delay to every chunk, stall (forward the request but never
// the reply), or reset (RST) every connection after `reset_after_bytes` of
// reply. One thread per direction per connection: tests open few.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace tf::testing {

class FaultProxy {
 public:
  enum class Mode { kPass, kDelay, kStall, kReset };

  FaultProxy(const std::string& target_host, uint16_t target_port, const std::string& listen_host = "127.0.0.1")
      : target_host_(target_host), target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, listen_host.c_str(), &addr.sin_addr);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~FaultProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    accept_thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : threads_) t.join();
  }
  uint16_t port() const { return port_; }
  void set_mode(Mode mode) { mode_ = mode; }
  void set_delay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
  void set_reset_after_bytes(int64_t n) { reset_after_ = n; }
  int64_t num_connections() const { return num_connections_.load(); }
  int64_t num_active() const { return num_active_.load(); }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      const int upstream = Connect();
      if (upstream < 0) {
        ::close(client);
        continue;
      }
      ++num_connections_;
      std::lock_guard<std::mutex> lock(mu_);
      ++num_active_;
      threads_.emplace_back([this, client, upstream] {
        Relay(client, upstream);
        --num_active_;
        ::close(client);
        ::close(upstream);
      });
    }
  }
  int Connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target_port_);
    ::inet_pton(AF_INET, target_host_.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  static void Reset(int fd) {
    linger l{1, 0};  // close with RST
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    ::shutdown(fd, SHUT_RDWR);
  }
  // Both directions of one connection, on one thread.
  void Relay(int client, int upstream) {
    char buf[16384];
    int64_t replied = 0;
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      const int r = ::poll(p, 2, 100);
      if (r == 0) continue;
      if (r < 0) return;
      if (p[0].revents != 0) {
        const ssize_t n = ::recv(client, buf, sizeof(buf), 0);
        if (n <= 0) return;
        if (::send(upstream, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
      }
      if (p[1].revents != 0) {
        const ssize_t n = ::recv(upstream, buf, sizeof(buf), 0);
        if (n <= 0) return;
        const Mode mode = mode_.load();
        if (mode == Mode::kStall) continue;  // swallow the reply, keep the connection
        if (mode == Mode::kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
        if (mode == Mode::kReset && replied + n > reset_after_.load()) {
          const int64_t part = std::max<int64_t>(0, reset_after_.load() - replied);
          if (part > 0) ::send(client, buf, static_cast<size_t>(part), MSG_NOSIGNAL);
          Reset(client);
          Reset(upstream);
          return;
        }
        if (::send(client, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
        replied += n;
      }
    }
  }

  std::string target_host_;
  uint16_t target_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<int> delay_ms_{0};
  std::atomic<int64_t> reset_after_{1 << 30};
  std::atomic<int64_t> num_connections_{0};
  std::atomic<int64_t> num_active_{0};
  std::mutex mu_;
  std::list<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace tf::testing
