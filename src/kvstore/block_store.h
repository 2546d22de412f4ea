// The persistent KV block store: one file per full KV block in a directory,
// named by the block's chained hash (BlockFileName), shared by every engine
// process on the machine. The filesystem is the truth; the in-memory index
// is a cache of it:
//   - a write goes to a temporary name and is renamed into place, so no
//     reader ever sees a partial file under a block's name;
//   - a lookup that misses the index tries the file by its name, and a file
//     that vanished (another process evicted it) is a miss;
//   - a read verifies every header field and both checksums; a file that
//     does not verify is deleted and counted, never served;
//   - capacity covers every block file in the directory, whoever wrote it;
//     eviction removes the least recently used (a read touches the file's
//     mtime), re-checking the mtime first since another process may have
//     just read it. The index is rebuilt by scanning at start and again
//     every `rescan_interval_s` on the write path, which picks up the other
//     processes' files.
// The mutex guards only the index; no lock is held across I/O.
// No tensor code: payloads are opaque bytes (KvStorage::ExportBlock's).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kv/block_hash.h"
#include "kvstore/block_file.h"

namespace tf {

struct BlockStoreOptions {
  std::string dir;
  uint64_t capacity_bytes = 0;
  BlockFileFormat format;  // what this engine's blocks look like
  double rescan_interval_s = 10;
};

// Counters, readable from any thread.
struct BlockStoreCounters {
  std::atomic<uint64_t> read_bytes{0};
  std::atomic<uint64_t> written_bytes{0};
  std::atomic<uint64_t> blocks_read{0};
  std::atomic<uint64_t> blocks_written{0};
  std::atomic<uint64_t> corrupt_deleted{0};  // files that did not verify
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> temp_files_cleaned{0};
};

enum class StoreRead { kHit, kMissing, kCorrupt };

class BlockStore {
 public:
  // Creates `dir` (mode 0700) when missing; refuses a directory that other
  // users could write (whoever writes it decides what the model says), one
  // this process cannot write, or a capacity of 0. Removes temporary files
  // left by processes that died, then scans the directory.
  static StatusOr<std::unique_ptr<BlockStore>> Open(const BlockStoreOptions& options);

  const BlockStoreOptions& options() const { return options_; }
  const BlockFileFormat& format() const { return options_.format; }

  // True when the block is in the index or its file exists.
  bool Contains(const BlockHash& hash);
  // True when the index knows the block (no I/O).
  bool InIndex(const BlockHash& hash) const;
  // Reads and verifies the block. On kHit `*file` holds the whole file and
  // `*payload` views its payload; the file's mtime is touched.
  StoreRead Read(const BlockHash& hash, std::vector<uint8_t>* file, std::span<const uint8_t>* payload);
  // Asks the kernel to start reading these blocks' files (readahead), so
  // that the Reads that follow overlap their disk I/O: a load of many
  // blocks then keeps the disk busy at a queue depth above one.
  void Prefetch(std::span<const BlockHash> hashes) const;
  // Writes the block after `parent` holding `tokens`, then evicts down to
  // capacity. IoError (naming errno's text, e.g. ENOSPC) when it could not.
  Status Write(const BlockHash& parent, std::span<const int32_t> tokens, std::span<const uint8_t> payload);
  // Rebuilds the index from the directory.
  Status Rescan();

  uint64_t size_bytes() const;
  uint64_t num_files() const;
  const BlockStoreCounters& counters() const { return counters_; }
  // Seconds the last scan took and how many files it found.
  double last_scan_seconds() const { return last_scan_seconds_.load(); }

 private:
  struct Entry {
    uint64_t bytes = 0;
    int64_t mtime_ns = 0;
  };
  using LruKey = std::pair<int64_t, BlockHash>;
  struct LruLess {
    bool operator()(const LruKey& a, const LruKey& b) const {
      if (a.first != b.first) return a.first < b.first;
      return a.second.bytes < b.second.bytes;
    }
  };
  struct Index {
    std::unordered_map<BlockHash, Entry, BlockHashHasher> entries;
    std::set<LruKey, LruLess> lru;  // (mtime, hash), oldest first
    uint64_t total_bytes = 0;
    void Put(const BlockHash& hash, Entry e);
    void Erase(const BlockHash& hash);
  };

  explicit BlockStore(const BlockStoreOptions& options) : options_(options) {}
  std::string PathOf(const BlockHash& hash) const;
  void CleanTemporaries();
  void Forget(const BlockHash& hash);
  void DeleteCorrupt(const BlockHash& hash, const std::string& why);
  void EvictToCapacity();
  void MaybeRescan();

  BlockStoreOptions options_;
  mutable std::mutex mu_;
  Index index_;
  std::chrono::steady_clock::time_point last_scan_;
  std::atomic<double> last_scan_seconds_{0};
  BlockStoreCounters counters_;
};

}  // namespace tf
