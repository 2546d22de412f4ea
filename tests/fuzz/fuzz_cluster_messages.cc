// libFuzzer target: everything that reaches the cluster code from a socket
// — registry entries (from etcd, with and without a cluster key), etcd's
// range replies and watch lines, the router <-> worker generate request and
// its SSE deltas, KV-event messages (ZMQ frames of msgpack), KV snapshots,
// cluster auth headers and base64. The first byte picks the parser; each
// must end in a Status, never a crash, a hang or a huge allocation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cluster/cluster_key.h"
#include "cluster/etcd_client.h"
#include "cluster/kv_event_codec.h"
#include "cluster/kv_index.h"
#include "cluster/worker_entry.h"
#include "cluster/worker_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const tf::ClusterKey key = *tf::ClusterKey::FromSecret("fuzzing-cluster-secret");
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 9) {
    case 0:
      (void)tf::ParseWorkerEntry(input, nullptr);
      (void)tf::ParseWorkerEntry(input, &key);
      break;
    case 1:
      (void)tf::ParseEtcdRangeReply(input);
      break;
    case 2: {
      int64_t revision = 0;
      bool compacted = false;
      (void)tf::ParseEtcdWatchLine(input, &revision, &compacted);
      break;
    }
    case 3: {
      auto r = tf::ParseWorkerGenerateRequest(input, 1 << 16);
      if (r.ok()) (void)tf::ValidateGenerationRequest(r->generation, 32000, 4096);
      break;
    }
    case 4:
      (void)tf::ParseStreamDelta(input);
      break;
    case 5: {
      // Frame 1 (8 bytes when well formed) and frame 2.
      const size_t split = input.size() < 8 ? input.size() : 8;
      auto batch = tf::DecodeKvEventMessage(std::string_view(input).substr(0, split), std::string_view(input).substr(split));
      if (batch.ok()) {
        tf::KvIndex index;
        (void)index.OnBatch("w", std::move(*batch));
      }
      break;
    }
    case 6: {
      auto snapshot = tf::ParseKvSnapshot(input);
      if (snapshot.ok()) {
        tf::KvIndex index;
        (void)index.OnSnapshot("w", std::move(*snapshot));
      }
      break;
    }
    case 7:
      (void)key.CheckAuthHeaderValue(input, "POST", "/internal/v1/generate", "{}", 1'800'000'000);
      break;
    case 8:
      (void)tf::Base64Decode(input);
      break;
  }
  return 0;
}
