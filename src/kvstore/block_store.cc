#include "kvstore/block_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "base/atomic_file.h"
#include "base/logging.h"

namespace tf {
namespace {

constexpr int64_t kStaleTempNs = int64_t{600} * 1'000'000'000;  // a temp this old is abandoned

int64_t MtimeNs(const struct stat& st) { return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec; }

int64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The hash a block file's name spells, or nullopt for any other name.
std::optional<BlockHash> ParseBlockName(std::string_view name) { return ParseBlockHashHex(name); }

// The writer's pid of a temporary `<64 hex>.tmp.<pid>.<n>`, or nullopt.
std::optional<pid_t> TempWriterPid(std::string_view name) {
  if (name.size() < 64 + 5 || name.substr(64, 5) != ".tmp." || !ParseBlockName(name.substr(0, 64))) return std::nullopt;
  const std::string_view rest = name.substr(69);
  pid_t pid = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
  if (ec != std::errc() || end == rest.data() || *end != '.') return std::nullopt;
  return pid;
}

bool ProcessAlive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

Status CheckDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return IoError(fmt::format("--kv-store {}: cannot create the directory: {}", dir, std::strerror(errno)));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return IoError(fmt::format("--kv-store {}: {}", dir, std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return InvalidArgumentError(fmt::format("--kv-store {}: not a directory", dir));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return FailedPreconditionError(fmt::format(
        "--kv-store {}: the directory is writable by other users (mode {:04o}); whoever can write it decides what "
        "the model says. Run: chmod go-w {}",
        dir, st.st_mode & 07777, dir));
  if (st.st_uid != ::geteuid() && st.st_uid != 0)
    return FailedPreconditionError(fmt::format("--kv-store {}: owned by uid {}, not by this user (uid {})", dir,
                                             st.st_uid, ::geteuid()));
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0)
    return FailedPreconditionError(fmt::format("--kv-store {}: not readable and writable: {}", dir, std::strerror(errno)));
  return Status::Ok();
}

// Reads exactly `n` bytes at offset 0; false on a short file or an error.
bool ReadAll(int fd, uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, out + done, n - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

}  // namespace

void BlockStore::Index::Put(const BlockHash& hash, Entry e) {
  Erase(hash);
  entries.emplace(hash, e);
  lru.emplace(e.mtime_ns, hash);
  total_bytes += e.bytes;
}

void BlockStore::Index::Erase(const BlockHash& hash) {
  const auto it = entries.find(hash);
  if (it == entries.end()) return;
  lru.erase({it->second.mtime_ns, hash});
  total_bytes -= it->second.bytes;
  entries.erase(it);
}

StatusOr<std::unique_ptr<BlockStore>> BlockStore::Open(const BlockStoreOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("--kv-store: empty directory name");
  if (options.capacity_bytes == 0) return InvalidArgumentError("--kv-store-gib must be positive");
  TF_RETURN_IF_ERROR(CheckDirectory(options.dir));
  auto store = std::unique_ptr<BlockStore>(new BlockStore(options));
  store->CleanTemporaries();
  TF_RETURN_IF_ERROR(store->Rescan());
  store->EvictToCapacity();
  return store;
}

std::string BlockStore::PathOf(const BlockHash& hash) const { return options_.dir + "/" + BlockFileName(hash); }

void BlockStore::CleanTemporaries() {
  DIR* d = ::opendir(options_.dir.c_str());
  if (d == nullptr) return;
  const int64_t now = NowNs();
  while (const dirent* e = ::readdir(d)) {
    const std::optional<pid_t> pid = TempWriterPid(e->d_name);
    if (!pid.has_value()) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // A live writer's temporary is about to be renamed; leave it. A temp of
    // our own pid is from a dead process that had it before us.
    const bool abandoned = *pid == ::getpid() || !ProcessAlive(*pid) || now - MtimeNs(st) > kStaleTempNs;
    if (abandoned && ::unlinkat(::dirfd(d), e->d_name, 0) == 0) counters_.temp_files_cleaned.fetch_add(1);
  }
  ::closedir(d);
}

Status BlockStore::Rescan() {
  const auto start = std::chrono::steady_clock::now();
  DIR* d = ::opendir(options_.dir.c_str());
  if (d == nullptr) return IoError(fmt::format("--kv-store {}: {}", options_.dir, std::strerror(errno)));
  Index fresh;
  while (const dirent* e = ::readdir(d)) {
    const std::optional<BlockHash> hash = ParseBlockName(e->d_name);
    if (!hash.has_value()) continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    fresh.Put(*hash, {static_cast<uint64_t>(st.st_size), MtimeNs(st)});
  }
  ::closedir(d);
  {
    std::lock_guard<std::mutex> lock(mu_);
    index_ = std::move(fresh);
    last_scan_ = std::chrono::steady_clock::now();
  }
  last_scan_seconds_.store(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status::Ok();
}

void BlockStore::MaybeRescan() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() - last_scan_ < std::chrono::duration<double>(options_.rescan_interval_s))
      return;
  }
  (void)Rescan();  // a directory that vanished leaves the old index; reads then miss
}

bool BlockStore::InIndex(const BlockHash& hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.entries.count(hash) != 0;
}

bool BlockStore::Contains(const BlockHash& hash) {
  if (InIndex(hash)) return true;
  struct stat st {};
  if (::stat(PathOf(hash).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  index_.Put(hash, {static_cast<uint64_t>(st.st_size), MtimeNs(st)});
  return true;
}

void BlockStore::Forget(const BlockHash& hash) {
  std::lock_guard<std::mutex> lock(mu_);
  index_.Erase(hash);
}

void BlockStore::DeleteCorrupt(const BlockHash& hash, const std::string& why) {
  TF_LOG_WARN("kv store: deleting {}: {}", BlockFileName(hash), why);
  ::unlink(PathOf(hash).c_str());
  Forget(hash);
  counters_.corrupt_deleted.fetch_add(1);
}

void BlockStore::Prefetch(std::span<const BlockHash> hashes) const {
  for (const BlockHash& hash : hashes) {
    const int fd = ::open(PathOf(hash).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // Read will see the miss
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    ::close(fd);
  }
}

StoreRead BlockStore::Read(const BlockHash& hash, std::vector<uint8_t>* file, std::span<const uint8_t>* payload) {
  const int fd = ::open(PathOf(hash).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    Forget(hash);  // ENOENT: evicted by someone; anything else: unusable here
    return StoreRead::kMissing;
  }
  const size_t want = options_.format.file_bytes();
  struct stat st {};
  std::string problem;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) != want) {
    problem = fmt::format("{} bytes, a block of this format has {}", st.st_size, want);
  } else {
    file->resize(want);
    if (!ReadAll(fd, file->data(), want)) problem = fmt::format("read failed: {}", std::strerror(errno));
  }
  if (problem.empty()) {
    auto parsed = ParseBlockFile(*file, options_.format, hash);
    if (parsed.ok()) {
      *payload = parsed->payload;
      ::futimens(fd, nullptr);  // the LRU clock: a read makes the block recent
      ::close(fd);
      std::lock_guard<std::mutex> lock(mu_);
      index_.Put(hash, {want, NowNs()});
      counters_.blocks_read.fetch_add(1);
      counters_.read_bytes.fetch_add(want);
      return StoreRead::kHit;
    }
    problem = std::string(parsed.status().message());
  }
  ::close(fd);
  DeleteCorrupt(hash, problem);
  return StoreRead::kCorrupt;
}

Status BlockStore::Write(const BlockHash& parent, std::span<const int32_t> tokens, std::span<const uint8_t> payload) {
  TF_ASSIGN_OR_RETURN(const std::vector<uint8_t> bytes, EncodeBlockFile(options_.format, parent, tokens, payload));
  const BlockHash hash = ChainBlockHash(parent, tokens);
  TF_RETURN_IF_ERROR(WriteFileAtomically(
      PathOf(hash), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  {
    std::lock_guard<std::mutex> lock(mu_);
    index_.Put(hash, {bytes.size(), NowNs()});
  }
  counters_.blocks_written.fetch_add(1);
  counters_.written_bytes.fetch_add(bytes.size());
  MaybeRescan();
  EvictToCapacity();
  return Status::Ok();
}

void BlockStore::EvictToCapacity() {
  for (;;) {
    LruKey oldest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (index_.total_bytes <= options_.capacity_bytes || index_.lru.empty()) return;
      oldest = *index_.lru.begin();
    }
    const std::string path = PathOf(oldest.second);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      Forget(oldest.second);  // already gone
      continue;
    }
    if (MtimeNs(st) > oldest.first) {
      // Read by another process since we indexed it: it is not the oldest.
      std::lock_guard<std::mutex> lock(mu_);
      index_.Put(oldest.second, {static_cast<uint64_t>(st.st_size), MtimeNs(st)});
      continue;
    }
    if (::unlink(path.c_str()) == 0) counters_.evictions.fetch_add(1);
    Forget(oldest.second);
  }
}

uint64_t BlockStore::size_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.total_bytes;
}

uint64_t BlockStore::num_files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return index_.entries.size();
}

}  // namespace tf
