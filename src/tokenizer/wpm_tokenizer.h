// WordPiece (`tokenizer.ggml.model = bert`), as BERT's uncased tokenizer:
// drop control characters, split on whitespace, punctuation and CJK
// characters, lowercase and strip accents (NFD, drop non-spacing marks), then
// greedy longest-match against the vocabulary. GGUF stores word-initial
// pieces with a "▁" prefix and continuation pieces bare (BERT's "##x" is "x").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tf {

class WpmTokenizer {
 public:
  explicit WpmTokenizer(const Vocab& vocab) : vocab_(vocab) {}
  void Encode(std::string_view text, std::vector<int32_t>* out) const;

  // The normalized words (exposed for tests).
  static std::vector<std::string> SplitWords(std::string_view text);

 private:
  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const;
  const Vocab& vocab_;
};

}  // namespace tf
