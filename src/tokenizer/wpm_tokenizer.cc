#include "tokenizer/wpm_tokenizer.h"

#include "base/utf8.h"
#include "tokenizer/unicode.h"

namespace tf {
namespace {

constexpr size_t kMaxCharsPerWord = 100;  // longer words become [UNK]

bool IsCjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BERT counts all non-alphanumeric printable ASCII as punctuation.
bool IsBertPunctuation(uint32_t cp, const CodepointClass& c) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return c.punctuation;
}

}  // namespace

std::vector<std::string> WpmTokenizer::SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::string current;
  auto finish = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  for (uint32_t cp : NormalizeNfd(DecodeCodepoints(text))) {
    const CodepointClass c = ClassifyCodepoint(cp);
    if (c.whitespace) {
      finish();
      continue;
    }
    if (cp == 0 || cp == kReplacementChar || c.control || c.nonspacing_mark) continue;
    const uint32_t lower = ToLowerCodepoint(cp);
    if (IsBertPunctuation(cp, c) || IsCjk(cp)) {
      finish();
      words.push_back(EncodeUtf8(lower));
      continue;
    }
    AppendUtf8(lower, &current);
  }
  finish();
  return words;
}

void WpmTokenizer::EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
  const std::vector<uint32_t> cps = DecodeCodepoints(word);
  const int32_t unk = vocab_.unk_id();
  if (cps.size() > kMaxCharsPerWord) {
    if (unk >= 0) out->push_back(unk);
    return;
  }
  // Byte offset of each character boundary.
  std::vector<size_t> bounds = {0};
  for (uint32_t cp : cps) bounds.push_back(bounds.back() + EncodeUtf8(cp).size());
  std::vector<int32_t> pieces;
  const std::string prefix = "\xE2\x96\x81";
  for (size_t start = 0; start < cps.size();) {
    int32_t found = -1;
    size_t end = cps.size();
    for (; end > start; --end) {
      std::string candidate = start == 0 ? prefix : std::string();
      candidate.append(word, bounds[start], bounds[end] - bounds[start]);
      if (auto id = vocab_.Find(candidate)) {
        found = *id;
        break;
      }
    }
    if (found < 0) {  // no piece fits: the whole word is unknown
      if (unk >= 0) out->push_back(unk);
      return;
    }
    pieces.push_back(found);
    start = end;
  }
  out->insert(out->end(), pieces.begin(), pieces.end());
}

void WpmTokenizer::Encode(std::string_view text, std::vector<int32_t>* out) const {
  for (const std::string& word : SplitWords(text)) EncodeWord(word, out);
}

}  // namespace tf
