#include "server/bearer_auth.h"

#include <openssl/crypto.h>

#include <string_view>

namespace tf {

bool BearerKeyMatches(const HttpRequest& request, const Sha256Digest& key_digest) {
  const auto it = request.find(boost::beast::http::field::authorization);
  if (it == request.end()) return false;
  const std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.substr(0, kBearer.size()) != kBearer) return false;
  const std::string_view key = value.substr(kBearer.size());
  const Sha256Digest given = Sha256(key.data(), key.size());
  return CRYPTO_memcmp(given.data(), key_digest.data(), given.size()) == 0;
}

}  // namespace tf
