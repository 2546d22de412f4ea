// A network namespace joined to the host by a veth pair with a tbf rate
// limit on both ends, for multi-process tests whose traffic must cross a
// real network stack (root only; callers skip otherwise).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace tf::testing {

inline int Sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

inline std::string ShOut(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// A namespace with a veth link to the host: host side 10.213.<i>.1, the
// namespace's side 10.213.<i>.2, both rate-limited by tbf. Deleted (with
// its link) on destruction.
class NetnsLink {
 public:
  NetnsLink(int i, const std::string& rate) : index_(i) {
    const std::string tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(i);
    ns_ = "tfns" + tag;
    host_if_ = "tfh" + tag;
    ns_if_ = "tfn" + tag;
    host_ip_ = "10.213." + std::to_string(i) + ".1";
    ns_ip_ = "10.213." + std::to_string(i) + ".2";
    ok_ = Sh("ip netns add " + ns_) == 0;
    if (!ok_) return;
    created_ = true;
    ok_ = Sh("ip link add " + host_if_ + " type veth peer name " + ns_if_) == 0 &&
          Sh("ip link set " + ns_if_ + " netns " + ns_) == 0 &&
          Sh("ip addr add " + host_ip_ + "/24 dev " + host_if_) == 0 && Sh("ip link set " + host_if_ + " up") == 0 &&
          Sh(Exec("ip addr add " + ns_ip_ + "/24 dev " + ns_if_)) == 0 && Sh(Exec("ip link set " + ns_if_ + " up")) == 0 &&
          Sh(Exec("ip link set lo up")) == 0 &&
          Sh("tc qdisc add dev " + host_if_ + " root tbf rate " + rate + " burst 64kb latency 50ms") == 0 &&
          Sh(Exec("tc qdisc add dev " + ns_if_ + " root tbf rate " + rate + " burst 64kb latency 50ms")) == 0;
  }
  ~NetnsLink() {
    if (created_) Sh("ip netns del " + ns_);
    Sh("ip link del " + host_if_);
  }
  bool ok() const { return ok_; }
  std::string Exec(const std::string& command) const { return "ip netns exec " + ns_ + " " + command; }
  const std::string& ns() const { return ns_; }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }
  // Bytes tbf has sent out of the host's end of the link.
  int64_t HostBytesSent() const {
    const std::string out = ShOut("tc -s qdisc show dev " + host_if_);
    const size_t at = out.find("Sent ");
    return at == std::string::npos ? -1 : std::atoll(out.c_str() + at + 5);
  }
  // Bytes tbf has sent out of the namespace's end.
  int64_t NsBytesSent() const {
    const std::string out = ShOut(Exec("tc -s qdisc show dev " + ns_if_));
    const size_t at = out.find("Sent ");
    return at == std::string::npos ? -1 : std::atoll(out.c_str() + at + 5);
  }

 private:
  int index_;
  bool ok_ = false;
  bool created_ = false;
  std::string ns_, host_if_, ns_if_, host_ip_, ns_ip_;
};

}  // namespace tf::testing
