// Text <-> token ids for a GGUF model, whichever of the three vocabulary
// kinds it uses. Special-token text in the input is split out first
// (user-defined tokens always, control tokens only with parse_special); the
// raw text between goes to the SPM, BPE or WPM encoder.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace tf {

class GgufFile;
class SpecialTokenMatcher;
class SpmTokenizer;
class BpeTokenizer;
class WpmTokenizer;

class Tokenizer {
 public:
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file);
  ~Tokenizer();

  const Vocab& vocab() const { return vocab_; }

  // add_special: BOS/EOS as the vocabulary asks (add_bos_token/add_eos_token).
  // parse_special: control-token text such as "<|im_end|>" becomes that token.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes one token contributes to text; may be part of a UTF-8
  // character (byte tokens). Control tokens give "" unless render_special.
  std::string TokenToPiece(int32_t id, bool render_special = false) const;

  // A sequence as valid UTF-8 (broken bytes become U+FFFD). When it starts
  // with BOS it is a whole text and loses the space SentencePiece adds in
  // front of the first word; otherwise it is a continuation and keeps it.
  std::string Decode(std::span<const int32_t> ids, bool render_special = false) const;

 private:
  explicit Tokenizer(Vocab vocab);
  void EncodeSpm(const std::vector<struct TextFragment>& fragments, std::vector<int32_t>* out) const;

  Vocab vocab_;
  std::unique_ptr<SpecialTokenMatcher> matcher_;
  std::unique_ptr<SpmTokenizer> spm_;
  std::unique_ptr<BpeTokenizer> bpe_;
  std::unique_ptr<WpmTokenizer> wpm_;
};

}  // namespace tf
