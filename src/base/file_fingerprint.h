// A fingerprint of a file's content: XXH3-128 over every byte, so two
// copies of one model at different paths (or on different hosts) agree, and
// a different model written over the same path never does. Hashing a
// multi-gigabyte model costs a full read, so the result is cached in a
// sidecar file beside it (`<path>.tfprint`), keyed by the file's device,
// inode, size and modification time: an unchanged file costs one stat and
// one small read on the next start. The sidecar is as trusted as the file
// it sits beside (whoever can write one can write the other).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tf {

// What identifies one version of a file without reading it.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size_bytes = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

StatusOr<FileIdentity> StatFileIdentity(const std::string& path);

struct FileFingerprint {
  std::string hex;          // 32 lowercase hex digits of XXH3-128
  bool from_cache = false;  // read from a valid sidecar, not computed
  double seconds = 0.0;     // what obtaining it took
};

// The sidecar beside `path`.
std::string FingerprintSidecarPath(const std::string& path);

// The fingerprint of the file at `path`: from its sidecar when the sidecar
// names the file's current identity, else computed and (when `write_cache`
// and the directory's mode bits allow writing, even for root) written to the
// sidecar through a temporary file and a rename. A sidecar that cannot be
// written is a warning, not an error.
StatusOr<FileFingerprint> FingerprintFile(const std::string& path, bool write_cache = true);

// XXH3-128 of the file's bytes as 32 hex digits, reading it sequentially
// (no cache involved).
StatusOr<std::string> HashFileContent(const std::string& path);

// The sidecar's one line for `identity` and `hex`, and its inverse (nullopt
// for anything that is not exactly such a line).
std::string FormatFingerprintSidecar(const FileIdentity& identity, std::string_view hex);
std::optional<std::pair<FileIdentity, std::string>> ParseFingerprintSidecar(std::string_view text);

}  // namespace tf
