#include "base/file_fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "base/atomic_file.h"
#include "base/logging.h"

namespace tf {
namespace {

constexpr std::string_view kSidecarMagic = "tokenfab-fingerprint-v1";
constexpr size_t kReadChunkBytes = 8u << 20;
constexpr size_t kMaxSidecarBytes = 4096;

std::string ErrnoText(int err) { return std::strerror(err); }

// Closes a descriptor on every path out.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The whole of `text` as a decimal integer of T's range (no sign for an
// unsigned T, no spaces, no '+').
template <typename T>
bool ParseDecimal(const std::string& text, T* out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxSidecarBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxSidecarBytes) return std::nullopt;
  return text;
}

// Whether the directory's mode bits let this process write into it. Asked
// of the bits rather than of access(2), so that a tree marked read-only
// (shared test fixtures, a model store mounted for reading) is left alone
// even by root.
bool ModeAllowsWrite(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  if (st.st_uid == ::geteuid()) return (st.st_mode & S_IWUSR) != 0;
  if (st.st_gid == ::getegid()) return (st.st_mode & S_IWGRP) != 0;
  return (st.st_mode & S_IWOTH) != 0;
}

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

StatusOr<FileIdentity> StatFileIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return IoError(fmt::format("{}: cannot stat: {}", path, ErrnoText(errno)));
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(fmt::format("{}: not a regular file", path));
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.size_bytes = static_cast<uint64_t>(st.st_size);
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return id;
}

std::string FingerprintSidecarPath(const std::string& path) { return path + ".tfprint"; }

StatusOr<std::string> HashFileContent(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(fmt::format("{}: cannot open: {}", path, ErrnoText(errno)));
  FdCloser closer{fd};
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), XXH3_freeState);
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) return InternalError("fingerprint: xxhash state");
  std::vector<uint8_t> buffer(kReadChunkBytes);
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(fmt::format("{}: read failed: {}", path, ErrnoText(errno)));
    if (n == 0) break;
    XXH3_128bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
  }
  const XXH128_hash_t h = XXH3_128bits_digest(state.get());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string FormatFingerprintSidecar(const FileIdentity& id, std::string_view hex) {
  return fmt::format("{} dev={} ino={} size={} mtime_ns={} xxh3_128={}\n", kSidecarMagic, id.device, id.inode,
                     id.size_bytes, id.mtime_ns, hex);
}

std::optional<std::pair<FileIdentity, std::string>> ParseFingerprintSidecar(std::string_view text) {
  // Exactly the line FormatFingerprintSidecar writes: anything else is stale
  // or foreign and gets recomputed.
  std::istringstream in{std::string(text)};
  std::string magic, dev, ino, size, mtime, hash;
  if (!(in >> magic >> dev >> ino >> size >> mtime >> hash) || magic != kSidecarMagic) return std::nullopt;
  std::string rest;
  if (in >> rest) return std::nullopt;
  auto field = [](const std::string& item, std::string_view name) -> std::optional<std::string> {
    if (item.size() <= name.size() + 1 || item.compare(0, name.size(), name) != 0 || item[name.size()] != '=')
      return std::nullopt;
    return item.substr(name.size() + 1);
  };
  const auto d = field(dev, "dev"), i = field(ino, "ino"), s = field(size, "size"), m = field(mtime, "mtime_ns"),
             h = field(hash, "xxh3_128");
  if (!d || !i || !s || !m || !h || h->size() != 32 || !IsLowerHex(*h)) return std::nullopt;
  FileIdentity id;
  if (!ParseDecimal(*d, &id.device) || !ParseDecimal(*i, &id.inode) || !ParseDecimal(*s, &id.size_bytes) ||
      !ParseDecimal(*m, &id.mtime_ns))
    return std::nullopt;
  if (FormatFingerprintSidecar(id, *h) != text) return std::nullopt;  // no signs, spaces or zeros smuggled in
  return std::make_pair(id, *h);
}

StatusOr<FileFingerprint> FingerprintFile(const std::string& path, bool write_cache) {
  const auto start = std::chrono::steady_clock::now();
  TF_ASSIGN_OR_RETURN(const FileIdentity before, StatFileIdentity(path));
  const std::string sidecar = FingerprintSidecarPath(path);
  if (const auto text = ReadSmallFile(sidecar)) {
    if (const auto cached = ParseFingerprintSidecar(*text); cached && cached->first == before)
      return FileFingerprint{cached->second, true, SecondsSince(start)};
  }
  TF_ASSIGN_OR_RETURN(std::string hex, HashFileContent(path));
  TF_ASSIGN_OR_RETURN(const FileIdentity after, StatFileIdentity(path));
  if (!(after == before))
    return FailedPreconditionError(fmt::format("{}: the file changed while it was being fingerprinted", path));
  if (write_cache && !ModeAllowsWrite(ParentDirectory(sidecar))) {
    TF_LOG_INFO("{}: the directory is read-only, so the fingerprint is recomputed on every start", path);
  } else if (write_cache) {
    if (Status s = WriteFileAtomically(sidecar, FormatFingerprintSidecar(before, hex)); !s.ok())
      TF_LOG_WARN("{} (the fingerprint is recomputed on every start)", s.message());
  }
  return FileFingerprint{std::move(hex), false, SecondsSince(start)};
}

}  // namespace tf
