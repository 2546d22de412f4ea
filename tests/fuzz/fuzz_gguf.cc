// libFuzzer target: the GGUF reader, and the tokenizer built from whatever
// metadata it accepts. Any crash, sanitizer report, leak or allocation the
// file cannot justify (-rss_limit_mb) is a finding. A custom mutator knows
// where GGUF keeps its counts, lengths, types, dims and offsets, and
// rewrites those fields with boundary values (structure-aware mutation).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz/gguf_fields.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = tf::GgufFile::Parse(std::span<const uint8_t>(data, size));
  if (!file.ok()) return 0;
  // Touch what a loader touches: every tensor's bytes, the vocabulary.
  for (const auto& info : (*file)->tensors()) {
    const tf::TensorView view = (*file)->View(info);
    if (view.nbytes > 0) {
      volatile uint8_t sink = view.data[0] ^ view.data[view.nbytes - 1];
      (void)sink;
    }
  }
  auto tokenizer = tf::Tokenizer::FromGguf(**file);
  if (tokenizer.ok()) {
    const auto ids = (*tokenizer)->Encode("Hello world <s> 123 \xe2\x82\xac", true, true);
    (void)(*tokenizer)->Decode(ids);
  }
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  uint32_t state = seed * 2654435761u + 1;
  auto next = [&] { return state = state * 1664525u + 1013904223u; };
  if (next() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  const std::vector<tf::fuzz::GgufField> fields = tf::fuzz::FindGgufFields(std::span<const uint8_t>(data, size));
  if (fields.empty()) return LLVMFuzzerMutate(data, size, max_size);
  const tf::fuzz::GgufField& f = fields[next() % fields.size()];
  static constexpr uint64_t kInteresting[] = {0, 1, 2, 3, 4, 5, 7, 8, 31, 32, 255, 256, 4096, 65535, 1u << 20,
                                              0x7fffffffu, 0x80000000u, 0xffffffffu, 0x100000000ull,
                                              0x7fffffffffffffffull, 0x8000000000000000ull, 0xfffffffffffffffeull,
                                              0xffffffffffffffffull};
  uint64_t value = kInteresting[next() % std::size(kInteresting)];
  if (next() % 4 == 0) value += static_cast<uint64_t>(static_cast<int32_t>(next() % 17) - 8);
  std::memcpy(data + f.offset, &value, f.width);  // little-endian, like the file
  return size;
}
