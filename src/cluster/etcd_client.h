// A small client for etcd's v3 JSON gateway (etcd 3.4 serves it on the
// client port): put, range and delete on keys and prefixes, leases (grant,
// keep-alive, revoke) and watch on a prefix. Keys and values travel base64
// as the gateway wants; 64-bit numbers arrive as JSON strings. Every call
// blocks its thread for at most the client's timeout (a watch until told to
// stop). Replies are untrusted: a malformed one is an error, never a crash.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace tf {

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;
  int64_t revision = 0;  // the store's revision when it answered
};

struct EtcdWatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // for kDelete only the key and revision
};

class EtcdClient {
 public:
  EtcdClient(std::string host, uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));
  // "http://host:port" (only http: etcd here runs on loopback or a private net).
  static StatusOr<EtcdClient> FromUrl(const std::string& url,
                                      std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

  // A lease of `ttl_s` seconds; its id.
  StatusOr<int64_t> LeaseGrant(int64_t ttl_s);
  // Refreshes the lease; the TTL etcd granted. NotFound when the lease has
  // expired or was revoked.
  StatusOr<int64_t> LeaseKeepAlive(int64_t lease_id);
  Status LeaseRevoke(int64_t lease_id);
  Status Put(const std::string& key, const std::string& value, int64_t lease_id = 0);
  StatusOr<EtcdRange> Get(const std::string& key);
  StatusOr<EtcdRange> GetPrefix(const std::string& prefix);
  Status Delete(const std::string& key);
  // Streams every change under `prefix` from `start_revision` (0: from now)
  // to `on_events` until it returns false, `stop` becomes true (checked
  // every 100 ms), etcd compacted the revision away (FailedPrecondition:
  // range again) or the connection fails (Unavailable). Blocks.
  Status WatchPrefix(const std::string& prefix, int64_t start_revision,
                     const std::function<bool(const std::vector<EtcdWatchEvent>&, int64_t revision)>& on_events,
                     const std::atomic<bool>& stop);

  std::string url() const;

 private:
  StatusOr<std::string> Post(const std::string& target, const std::string& body);
  StatusOr<EtcdRange> Range(const std::string& key, const std::string& range_end);

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
};

// The first key after every key that starts with `prefix` (etcd's range_end).
std::string PrefixRangeEnd(const std::string& prefix);

// Parsing of the gateway's replies, exposed for the fuzzer and tests.
StatusOr<EtcdRange> ParseEtcdRangeReply(const std::string& body);
// One line of a watch stream: its events and header revision. Sets
// `*compacted` when etcd says the start revision is gone.
StatusOr<std::vector<EtcdWatchEvent>> ParseEtcdWatchLine(const std::string& line, int64_t* revision, bool* compacted);

std::string Base64Encode(std::string_view bytes);
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace tf
