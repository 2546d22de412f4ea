#include "base/sha256.h"

#include <openssl/evp.h>

#include "base/check.h"

namespace tf {

Sha256Digest Sha256(const void* data, size_t size) {
  Sha256Digest out;
  unsigned int out_len = 0;
  const int ok = EVP_Digest(data, size, out.data(), &out_len, EVP_sha256(), nullptr);
  TF_CHECK(ok == 1 && out_len == out.size());
  return out;
}

}  // namespace tf
