// libFuzzer target: KV block files as the store reads them from disk, where
// anyone who could write the directory (or a crash, or a failing disk)
// may have left any bytes. Parsing ends in a Status or in contents that
// encode back to exactly the bytes read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "fuzz/block_file_fuzz_format.h"
#include "kvstore/block_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const tf::BlockFileFormat format = tf::fuzz::FuzzBlockFileFormat();
  const std::span<const uint8_t> bytes(data, size);
  // The name claims the hash stored in the file (when there is room for one),
  // so the deeper checks are reached too.
  tf::BlockHash claimed;
  if (size >= 144) std::copy(data + 112, data + 144, claimed.bytes.begin());
  const auto parsed = tf::ParseBlockFile(bytes, format, claimed);
  if (!parsed.ok()) return 0;
  const auto again = tf::EncodeBlockFile(format, parsed->parent, parsed->tokens, parsed->payload);
  if (!again.ok() || std::vector<uint8_t>(bytes.begin(), bytes.end()) != *again) std::abort();
  return 0;
}
