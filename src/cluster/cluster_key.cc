#include "cluster/cluster_key.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/sha256.h"

namespace tf {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

}  // namespace

int64_t UnixNowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

StatusOr<ClusterKey> ClusterKey::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(fmt::format("--cluster-key {}: cannot open the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  StatusOr<ClusterKey> key = FromSecret(text.str());
  if (!key.ok()) return InvalidArgumentError(fmt::format("--cluster-key {}: {}", path, key.status().message()));
  return key;
}

StatusOr<ClusterKey> ClusterKey::FromSecret(std::string secret) {
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ' ||
                             secret.back() == '\t')) {
    secret.pop_back();
  }
  if (secret.size() < 16) {
    return InvalidArgumentError(fmt::format("--cluster-key: the key has {} bytes; use at least 16", secret.size()));
  }
  return ClusterKey(std::move(secret));
}

std::string ClusterKey::Sign(std::string_view message) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return Hex(mac, len);
}

bool ClusterKey::Verify(std::string_view message, std::string_view signature_hex) const {
  const std::string expected = Sign(message);
  if (signature_hex.size() != expected.size()) return false;
  return CRYPTO_memcmp(expected.data(), signature_hex.data(), expected.size()) == 0;
}

namespace {
std::string CallMessage(std::string_view method, std::string_view target, int64_t ts, std::string_view body) {
  const Sha256Digest digest = Sha256(body.data(), body.size());
  return fmt::format("{}|{}|{}|{}", method, target, ts, Hex(digest.data(), digest.size()));
}
}  // namespace

std::string ClusterKey::AuthHeaderValue(std::string_view method, std::string_view target, std::string_view body,
                                        int64_t now_unix_s) const {
  return fmt::format("{}:{}", now_unix_s, Sign(CallMessage(method, target, now_unix_s, body)));
}

Status ClusterKey::CheckAuthHeaderValue(std::string_view value, std::string_view method, std::string_view target,
                                        std::string_view body, int64_t now_unix_s) const {
  const size_t colon = value.find(':');
  if (colon == std::string_view::npos) return InvalidArgumentError(fmt::format("{} is not ts:hmac", kClusterAuthHeader));
  int64_t ts = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + colon, ts);
  if (ec != std::errc() || end != value.data() + colon) {
    return InvalidArgumentError(fmt::format("{}: the timestamp is not a number", kClusterAuthHeader));
  }
  if (ts < now_unix_s - kClusterAuthWindowS || ts > now_unix_s + kClusterAuthWindowS) {
    return InvalidArgumentError(fmt::format("{}: timestamp {} is more than {} s from now ({})", kClusterAuthHeader, ts,
                                            kClusterAuthWindowS, now_unix_s));
  }
  if (!Verify(CallMessage(method, target, ts, body), value.substr(colon + 1))) {
    return InvalidArgumentError(fmt::format("{}: the HMAC does not match (wrong cluster key?)", kClusterAuthHeader));
  }
  return Status::Ok();
}

}  // namespace tf
