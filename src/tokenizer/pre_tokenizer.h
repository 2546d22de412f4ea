// Splits text into words before byte-level BPE, by the regular expressions
// that `tokenizer.ggml.pre` names. The expressions run one after another:
// each splits every piece the previous one produced, keeping both the matches
// and the text between them. Matching uses PCRE2 (UTF, Unicode properties,
// JIT); `$` means end of piece only.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace tf {

class PreTokenizer {
 public:
  // Fails for a pre-tokenizer name we do not know.
  static StatusOr<std::unique_ptr<PreTokenizer>> ForName(std::string_view pre_name);
  // For tests: an explicit list of expressions.
  static StatusOr<std::unique_ptr<PreTokenizer>> FromPatterns(const std::vector<std::string>& patterns);
  ~PreTokenizer();

  // `text` must be valid UTF-8. The views point into `text`.
  std::vector<std::string_view> Split(std::string_view text) const;

  // Names accepted by ForName.
  static std::vector<std::string> KnownNames();

 private:
  struct Compiled;
  PreTokenizer() = default;
  void SplitOne(const Compiled& re, std::string_view piece, std::vector<std::string_view>* out) const;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace tf
