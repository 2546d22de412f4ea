// How long the KV store takes to open (temporary cleanup + the scan that
// rebuilds its index) over N block files. Writes N small block files with
// BlockStore::Write (a scan reads names and inodes, never contents, so the
// payload size does not matter), then times BlockStore::Open with the
// kernel's dentry and inode caches dropped (cold, needs root) and kept (warm).
// Usage: tf_kv_store_scan_bench DIR [N=100000]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kvstore/block_store.h"

namespace {

double TimeOpen(const tf::BlockStoreOptions& options, uint64_t* files) {
  const auto start = std::chrono::steady_clock::now();
  auto store = tf::BlockStore::Open(options);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
    std::exit(1);
  }
  *files = (*store)->num_files();
  return s;
}

bool DropDentries() {
  ::sync();
  const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY);
  if (fd < 0) return false;
  const bool ok = ::write(fd, "2", 1) == 1;
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
    return 2;
  }
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 100000;
  tf::BlockStoreOptions options;
  options.dir = argv[1];
  options.capacity_bytes = uint64_t{1} << 40;
  options.format.model_root = tf::RootBlockHash("scan-bench");
  options.format.block_size = 16;
  options.format.n_layer = 1;
  options.format.payload_bytes = 64;
  uint64_t files = 0;
  TimeOpen(options, &files);
  if (static_cast<int64_t>(files) < n) {
    auto store = std::move(*tf::BlockStore::Open(options));
    std::vector<int32_t> tokens(16);
    std::vector<uint8_t> payload(64, 7);
    tf::BlockHash parent = options.format.model_root;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = static_cast<int64_t>(files); i < n; ++i) {
      for (int t = 0; t < 16; ++t) tokens[t] = static_cast<int32_t>(i * 16 + t);
      const tf::Status s = store->Write(parent, tokens, payload);
      if (!s.ok()) {
        std::fprintf(stderr, "write: %s\n", std::string(s.message()).c_str());
        return 1;
      }
    }
    std::printf("wrote %lld block files in %.2f s\n", static_cast<long long>(n - static_cast<int64_t>(files)),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const bool dropped = DropDentries();
  const double cold = TimeOpen(options, &files);
  const double warm = TimeOpen(options, &files);
  std::printf("open over %llu block files: %.3f s %s, %.3f s warm\n", static_cast<unsigned long long>(files), cold,
              dropped ? "cold (dentry/inode caches dropped)" : "(caches not dropped: not root)", warm);
  return 0;
}
