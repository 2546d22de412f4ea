// SentencePiece-style BPE over a scored vocabulary (`tokenizer.ggml.model =
// llama`): start from single characters, repeatedly merge the adjacent pair
// whose concatenation is the highest-scoring token, and fall back to byte
// tokens (<0xXX>) for characters the vocabulary lacks.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tf {

class SpmTokenizer {
 public:
  explicit SpmTokenizer(const Vocab& vocab) : vocab_(vocab) {}
  // `text` is already whitespace-escaped (spaces replaced by U+2581).
  void Encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  void EmitSymbol(std::string_view symbol, std::vector<int32_t>* out) const;
  const Vocab& vocab_;
};

// Replaces every ' ' with U+2581 ("▁"), as SentencePiece does before encoding.
std::string EscapeSpmWhitespace(std::string_view text);

}  // namespace tf
