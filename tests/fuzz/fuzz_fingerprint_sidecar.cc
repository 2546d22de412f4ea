// libFuzzer target: the model-fingerprint sidecar (`<model>.tfprint`), read
// at every start. Whatever the file holds, parsing ends in a value or
// nullopt (never a crash or an exception out of the parser), and anything it
// accepts formats back to exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/file_fingerprint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = tf::ParseFingerprintSidecar(text);
  if (parsed && tf::FormatFingerprintSidecar(parsed->first, parsed->second) != text) std::abort();
  return 0;
}
