// `Authorization: Bearer KEY` checked against a key's SHA-256 digest:
// digests have a fixed length, so the comparison time says nothing about
// the key (CRYPTO_memcmp). The public API and a worker's internal routes
// (without a cluster key) both use it.
#pragma once

#include "base/sha256.h"
#include "server/http_server.h"

namespace tf {

bool BearerKeyMatches(const HttpRequest& request, const Sha256Digest& key_digest);

}  // namespace tf
