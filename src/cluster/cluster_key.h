// The shared secret of a cluster (--cluster-key FILE): registry entries
// carry an HMAC-SHA256 of their content under it, and calls between members
// carry `X-Tokenfab-Auth: <unix seconds>:<hex HMAC of method|target|seconds|
// sha256(body)>`, accepted within ±60 s, so a recorded call goes stale and
// a body cannot be swapped under a header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace tf {

inline constexpr const char* kClusterAuthHeader = "X-Tokenfab-Auth";
inline constexpr int64_t kClusterAuthWindowS = 60;

class ClusterKey {
 public:
  // The key is the file's content without trailing whitespace; at least 16
  // bytes.
  static StatusOr<ClusterKey> Load(const std::string& path);
  static StatusOr<ClusterKey> FromSecret(std::string secret);

  // Lowercase hex HMAC-SHA256 of `message`.
  std::string Sign(std::string_view message) const;
  // Constant-time check of a hex signature.
  bool Verify(std::string_view message, std::string_view signature_hex) const;

  std::string AuthHeaderValue(std::string_view method, std::string_view target, std::string_view body,
                              int64_t now_unix_s) const;
  // Ok, or PermissionDenied-like InvalidArgument naming what is wrong.
  Status CheckAuthHeaderValue(std::string_view value, std::string_view method, std::string_view target,
                              std::string_view body, int64_t now_unix_s) const;

 private:
  explicit ClusterKey(std::string secret) : secret_(std::move(secret)) {}
  std::string secret_;
};

int64_t UnixNowSeconds();

}  // namespace tf
