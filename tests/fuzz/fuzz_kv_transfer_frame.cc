// libFuzzer target: the KV transfer protocol as a peer sends it — a stream
// of frames, each header checked, then its payload decoded by the parser of
// its type. Every input must end in a Status, never a crash, a hang or an
// allocation beyond what the header's bound allows.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cluster/kv_transfer_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> rest(data, size);
  while (rest.size() >= tf::kKvFrameHeaderBytes) {
    auto header = tf::ParseKvFrameHeader(rest.first(tf::kKvFrameHeaderBytes));
    if (!header.ok()) return 0;
    rest = rest.subspan(tf::kKvFrameHeaderBytes);
    if (header->payload_bytes > rest.size()) return 0;  // the connection would wait for more
    const std::span<const uint8_t> payload = rest.first(header->payload_bytes);
    rest = rest.subspan(header->payload_bytes);
    switch (header->type) {
      case tf::KvFrameType::kHello:
        (void)tf::ParseKvHello(payload);
        break;
      case tf::KvFrameType::kPrefillRequest:
        (void)tf::ParseKvPrefillRequest(payload);
        break;
      case tf::KvFrameType::kAccept:
        (void)tf::ParseKvAccept(payload);
        break;
      case tf::KvFrameType::kBlock: {
        auto block = tf::ParseKvBlockFrame(payload);
        if (block.ok()) (void)tf::KvPayloadChecksum(block->payload);
        break;
      }
      case tf::KvFrameType::kDone:
        (void)tf::ParseKvDone(payload);
        break;
      case tf::KvFrameType::kAck:
        break;
      case tf::KvFrameType::kError:
        (void)tf::ParseKvError(payload);
        break;
    }
  }
  return 0;
}
