// SHA-256 (OpenSSL's implementation): prefix-cache block keys and API-key
// comparison both need a cryptographic digest.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tf {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(const void* data, size_t size);

}  // namespace tf
