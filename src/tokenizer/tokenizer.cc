#include "tokenizer/tokenizer.h"

#include "base/utf8.h"
#include "gguf/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/special_token_matcher.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/wpm_tokenizer.h"

namespace tf {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581

std::string ReplaceSpmSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.substr(pos, kSpmSpace.size()) == kSpmSpace) {
      out.push_back(' ');
      pos += kSpmSpace.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

// Byte-level BPE text back to bytes; characters outside the byte map (added
// tokens written in plain Unicode) pass through unchanged.
std::string DecodeBpeBytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    DecodedCodepoint d = DecodeUtf8(text, pos);
    auto byte = d.valid ? BpeCharToByte(d.codepoint) : std::nullopt;
    if (byte) {
      out.push_back(static_cast<char>(*byte));
    } else {
      out.append(text.substr(pos, d.length));
    }
    pos += d.length;
  }
  return out;
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file) {
  TF_ASSIGN_OR_RETURN(Vocab vocab, Vocab::FromGguf(file));
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer(std::move(vocab)));
  t->matcher_ = std::make_unique<SpecialTokenMatcher>(t->vocab_);
  switch (t->vocab_.type()) {
    case VocabType::kSpm:
      t->spm_ = std::make_unique<SpmTokenizer>(t->vocab_);
      break;
    case VocabType::kBpe: {
      TF_ASSIGN_OR_RETURN(t->bpe_, BpeTokenizer::Create(t->vocab_));
      break;
    }
    case VocabType::kWpm:
      t->wpm_ = std::make_unique<WpmTokenizer>(t->vocab_);
      break;
  }
  return t;
}

void Tokenizer::EncodeSpm(const std::vector<TextFragment>& fragments, std::vector<int32_t>* out) const {
  // SentencePiece puts a space before the first word and, in llama.cpp's
  // convention, before text that follows a special token.
  bool prev_is_special = true;
  for (const TextFragment& f : fragments) {
    if (f.is_token()) {
      out->push_back(f.token);
      prev_is_special = true;
      continue;
    }
    std::string text;
    if (vocab_.add_space_prefix() && prev_is_special) text = " ";
    text.append(f.text);
    spm_->Encode(EscapeSpmWhitespace(text), out);
    prev_is_special = false;
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  if (add_special && vocab_.add_bos()) out.push_back(vocab_.bos_id());
  const std::vector<TextFragment> fragments = matcher_->Partition(text, parse_special);
  if (spm_) {
    EncodeSpm(fragments, &out);
  } else {
    for (const TextFragment& f : fragments) {
      if (f.is_token()) {
        out.push_back(f.token);
      } else if (bpe_) {
        bpe_->Encode(f.text, &out);
      } else {
        wpm_->Encode(f.text, &out);
      }
    }
  }
  if (add_special && vocab_.add_eos()) out.push_back(vocab_.eos_id());
  return out;
}

std::string Tokenizer::TokenToPiece(int32_t id, bool render_special) const {
  if (!vocab_.IsValidId(id)) return "";
  const TokenData& t = vocab_.token(id);
  switch (t.type) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kUnused:
      return render_special ? t.text : "";
    case TokenType::kUserDefined:
      return t.text;
    case TokenType::kByte:
      if (auto byte = vocab_.TokenByte(id)) return std::string(1, static_cast<char>(*byte));
      return "";
    case TokenType::kNormal:
    case TokenType::kUndefined:
      break;
  }
  if (vocab_.type() == VocabType::kBpe) return DecodeBpeBytes(t.text);
  return ReplaceSpmSpaces(t.text);
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool render_special) const {
  // A sequence that starts at BOS is a whole text: drop the space
  // SentencePiece put before its first word. A continuation keeps it.
  bool strip_space = vocab_.type() != VocabType::kBpe && vocab_.add_space_prefix() && !ids.empty() &&
                     ids.front() == vocab_.bos_id();
  std::string out;
  for (int32_t id : ids) {
    std::string piece = TokenToPiece(id, render_special);
    if (strip_space && !piece.empty()) {
      if (piece[0] == ' ') piece.erase(0, 1);
      strip_space = false;
    }
    out += piece;
  }
  return SanitizeUtf8(out);
}

}  // namespace tf
