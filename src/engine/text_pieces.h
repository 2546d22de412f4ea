// Every token's output bytes, computed once per engine: what a token adds
// to the text (control tokens add nothing). The JSON constraint tests each
// candidate's bytes every step, so it must not re-decode them.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace tf {

class TextPieces {
 public:
  explicit TextPieces(const Tokenizer& tokenizer) {
    const int64_t n = tokenizer.vocab().size();
    pieces_.reserve(static_cast<size_t>(n));
    for (int64_t id = 0; id < n; ++id) pieces_.push_back(tokenizer.TokenToPiece(static_cast<int32_t>(id)));
  }
  // Ids past the tokenizer's vocabulary (a model may pad its output rows)
  // have no text.
  const std::string& operator[](int32_t id) const {
    return id >= 0 && id < size() ? pieces_[static_cast<size_t>(id)] : empty_;
  }
  int64_t size() const { return static_cast<int64_t>(pieces_.size()); }
  std::span<const std::string> all() const { return pieces_; }

 private:
  std::vector<std::string> pieces_;
  std::string empty_;
};

}  // namespace tf
