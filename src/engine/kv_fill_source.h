// Where a decode worker's prompt KV comes from when a prefill worker
// computes it (cluster/kv_transfer_client implements it). The engine
// reserves the blocks, hands them over, and keeps them out of every block
// table until the fill reports back, so the source may write into them from
// its own thread (as the KV store's loads do).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/status.h"
#include "engine/generation.h"
#include "kv/block_hash.h"
#include "kv/kv_manager.h"
#include "kvstore/block_store.h"
#include "tensor/kv_storage.h"

namespace tf {

struct KvFillJob {
  RemotePrefill remote;
  std::string kv_fingerprint;   // KvFingerprint() of the engine
  std::vector<int32_t> tokens;  // the positions to fill: the prompt without its last token
  int64_t first_block = 0;      // prompt blocks before it are attached already
  std::vector<int32_t> blocks;  // pool blocks for prompt blocks first_block.., reserved
  std::vector<BlockHash> hashes;  // expected chained hashes of the full ones among them
  BlockStore* store = nullptr;    // the engine's KV store (thread-safe), for remote.via_store
};

struct KvFillResult {
  // Contiguous from first_block: full blocks whose hash and checksum
  // verified, and positions (from first_block's start) that hold their KV:
  // full blocks only, plus the partial last one when everything arrived.
  std::vector<BlockHash> filled_hashes;
  int64_t num_tokens_filled = 0;
  Status status;  // why it stopped short; Ok when everything arrived
  uint64_t bytes_received = 0;
};

class KvFillSource {
 public:
  virtual ~KvFillSource() = default;
  // Engine thread; must not block. `storage` outlives the fill. `done` runs
  // exactly once, on the source's thread, after its last write to a block.
  virtual uint64_t StartFill(KvFillJob job, KvStorage* storage, std::function<void(KvFillResult)> done) = 0;
  // Ends a fill early (the request was aborted); `done` still runs.
  virtual void CancelFill(uint64_t fill_id) = 0;
};

}  // namespace tf
