#include "base/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace tf {
namespace {

std::string TemporaryPath(const std::string& path) {
  static std::atomic<uint64_t> next{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), next.fetch_add(1));
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::function<Status(const ByteSink&)>& produce) {
  const std::string tmp_path = TemporaryPath(path);
  std::FILE* f = std::fopen(tmp_path.c_str(), "wb");
  if (f == nullptr) return IoError(fmt::format("cannot create {}: {}", tmp_path, std::strerror(errno)));
  Status status = produce([f, &tmp_path](std::string_view chunk) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size())
      return IoError(fmt::format("writing {}: {}", tmp_path, std::strerror(errno)));
    return Status::Ok();
  });
  if (std::fclose(f) != 0 && status.ok())
    status = IoError(fmt::format("closing {}: {}", tmp_path, std::strerror(errno)));
  if (status.ok() && std::rename(tmp_path.c_str(), path.c_str()) != 0)
    status = IoError(fmt::format("renaming {} to {}: {}", tmp_path, path, std::strerror(errno)));
  if (!status.ok()) std::remove(tmp_path.c_str());
  return status;
}

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  return WriteFileAtomically(path, [bytes](const ByteSink& sink) { return sink(bytes); });
}

}  // namespace tf
