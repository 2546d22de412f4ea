#include "engine/kv_store_io.h"

#include <utility>

#include "base/logging.h"

namespace tf {

KvStoreStats& KvStoreStats::operator+=(const KvStoreStats& o) {
  enabled = enabled || o.enabled;
  query_tokens += o.query_tokens;
  hit_tokens += o.hit_tokens;
  read_bytes += o.read_bytes;
  written_bytes += o.written_bytes;
  blocks_written += o.blocks_written;
  skipped_writes += o.skipped_writes;
  write_errors += o.write_errors;
  corrupt_deleted += o.corrupt_deleted;
  evictions += o.evictions;
  size_bytes += o.size_bytes;
  num_files += o.num_files;
  load_seconds += o.load_seconds;
  read_seconds += o.read_seconds;
  import_seconds += o.import_seconds;
  return *this;
}

KvStoreIo::KvStoreIo(BlockStore* store, KvStorage* kv, size_t max_queued_writes, std::function<void()> on_load_done)
    : store_(store), kv_(kv), max_queued_writes_(max_queued_writes), on_load_done_(std::move(on_load_done)) {
  thread_ = std::thread([this] { Loop(); });
}

KvStoreIo::~KvStoreIo() { Stop(); }

bool KvStoreIo::CanQueueWrite() const {
  if (writing_stopped_.load()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return writes_.size() < max_queued_writes_;
}

void KvStoreIo::QueueWrite(StoreWrite write) {
  std::lock_guard<std::mutex> lock(mu_);
  writes_.push_back(std::move(write));
  wake_.notify_one();
}

void KvStoreIo::QueueLoad(StoreLoad load) {
  std::lock_guard<std::mutex> lock(mu_);
  loads_.push_back({std::move(load), std::chrono::steady_clock::now()});
  wake_.notify_one();
}

std::vector<StoreLoadResult> KvStoreIo::TakeLoaded() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(done_, {});
}

void KvStoreIo::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void KvStoreIo::Loop() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] { return stopping_ || !loads_.empty() || !writes_.empty(); });
    if (!loads_.empty()) {
      const QueuedLoad q = std::move(loads_.front());
      loads_.pop_front();
      lock.unlock();
      RunLoad(q);
      on_load_done_();
      continue;
    }
    if (!writes_.empty()) {
      const StoreWrite w = std::move(writes_.front());
      writes_.pop_front();
      lock.unlock();
      RunWrite(w);
      continue;
    }
    if (stopping_) return;
  }
}

void KvStoreIo::RunLoad(const QueuedLoad& q) {
  StoreLoadResult result;
  result.seq = q.load.seq;
  std::vector<uint8_t> file;
  std::span<const uint8_t> payload;
  using Clock = std::chrono::steady_clock;
  const auto ns_since = [](Clock::time_point t) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
  };
  // Readahead a window ahead of the reads, so the disk always has several
  // files in flight without the page cache holding the whole load twice.
  constexpr size_t kPrefetchWindow = 16;
  const std::span<const BlockHash> hashes(q.load.hashes);
  store_->Prefetch(hashes.first(std::min(hashes.size(), kPrefetchWindow)));
  for (size_t i = 0; i < q.load.blocks.size(); ++i) {
    if (i + kPrefetchWindow < hashes.size()) store_->Prefetch(hashes.subspan(i + kPrefetchWindow, 1));
    // The chain breaks at the first block that is not there intact.
    const auto read_start = Clock::now();
    const bool read = store_->Read(q.load.hashes[i], &file, &payload) == StoreRead::kHit;
    counters_.read_ns.fetch_add(ns_since(read_start));
    const auto import_start = Clock::now();
    const bool imported = read && kv_->ImportBlock(q.load.blocks[i], payload).ok();
    counters_.import_ns.fetch_add(ns_since(import_start));
    if (!imported) {
      counters_.blocks_missing.fetch_add(1);
      break;
    }
    result.filled.push_back(q.load.hashes[i]);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - q.queued).count();
  counters_.loads.fetch_add(1);
  std::lock_guard<std::mutex> lock(mu_);
  done_.push_back(std::move(result));
}

void KvStoreIo::RunWrite(const StoreWrite& w) {
  if (writing_stopped_.load()) {
    counters_.skipped_writes.fetch_add(1);
    return;
  }
  const Status status = store_->Write(w.parent, w.tokens, w.payload);
  if (status.ok()) return;
  counters_.write_errors.fetch_add(1);
  writing_stopped_.store(true);
  TF_LOG_WARN("kv store: writing stops after an error; serving goes on, reads continue: {}", status.message());
}

}  // namespace tf
