// Finds special tokens (control, user-defined, unknown) in raw text and
// splits the text around them, leftmost-longest, in one pass over a byte trie.
// User-defined tokens are always matched (they are ordinary added words);
// control and unknown tokens only when the caller parses special text.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace tf {

// A piece of the input: raw text to tokenize, or one matched special token.
struct TextFragment {
  std::string_view text;  // empty for a token fragment
  int32_t token = -1;     // >= 0 for a token fragment
  bool is_token() const { return token >= 0; }
};

class SpecialTokenMatcher {
 public:
  explicit SpecialTokenMatcher(const Vocab& vocab);

  std::vector<TextFragment> Partition(std::string_view text, bool parse_special) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                  // a token ends here
  };
  int32_t Child(int32_t node, uint8_t byte) const;
  void Insert(std::string_view text, int32_t token);
  // Longest special token starting at text[pos] that may be matched; -1 if none.
  int32_t LongestMatch(std::string_view text, size_t pos, bool parse_special, size_t* length) const;

  const Vocab& vocab_;
  std::vector<Node> nodes_;
};

}  // namespace tf
