// Byte-level BPE (`tokenizer.ggml.model = gpt2`): pre-tokenize into words,
// map each byte to its printable stand-in, then apply merges by rank.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/vocab.h"

namespace tf {

class BpeTokenizer {
 public:
  static StatusOr<std::unique_ptr<BpeTokenizer>> Create(const Vocab& vocab);
  // `text` may contain invalid UTF-8: each broken sequence becomes U+FFFD.
  void Encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  BpeTokenizer(const Vocab& vocab, std::unique_ptr<PreTokenizer> pre, bool ignore_merges)
      : vocab_(vocab), pre_(std::move(pre)), ignore_merges_(ignore_merges) {}
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  const Vocab& vocab_;
  std::unique_ptr<PreTokenizer> pre_;
  bool ignore_merges_;  // a word that is itself a token skips merging (Llama 3)
};

}  // namespace tf
