// A worker's registry entry: what the router needs to route to it, checked
// once when it arrives (from etcd, so untrusted). Stored under
// /tokenfab/workers/<model>/<role>/<address> with the worker's lease, as
// JSON; with a cluster key the JSON carries "hmac", an HMAC of the entry's
// canonical JSON without that field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "cluster/cluster_key.h"

namespace tf {

inline constexpr const char* kWorkersPrefix = "/tokenfab/workers/";

struct WorkerEntry {
  std::string address;          // host:port of its HTTP server
  std::string model;            // served model name
  std::string role = "both";    // prefill | decode | both
  std::string fingerprint;      // the model's content fingerprint (FingerprintModel key)
  std::string kv_fingerprint;   // what its block hashes start from (KvFingerprint)
  std::string kv_type;          // f32 | bf16
  int block_size = 0;           // tokens per KV block
  int64_t kv_capacity_blocks = 0;
  int64_t ctx_size = 0;
  int64_t n_vocab = 0;
  std::string kv_events;        // host:port of its ZMQ PUB socket; empty: none
  std::string kv_transfer;      // host:port of its KV transfer server (prefill workers); empty: none
  std::string kv_store;         // <host name>:<store directory> with --kv-store; empty: none

  std::string Key() const;
  // Canonical JSON, signed when `key` is given.
  std::string ToJson(const ClusterKey* key) const;
};

// Parses and checks an entry (every field typed and bounded, the address a
// host:port); with `key`, the HMAC must match. Errors name the field.
StatusOr<WorkerEntry> ParseWorkerEntry(const std::string& json, const ClusterKey* key);

}  // namespace tf
