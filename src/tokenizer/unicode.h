// Unicode facts the tokenizers need, from utf8proc (Debian's libutf8proc):
// general categories, lowercase, canonical decomposition; plus GPT-2's
// reversible byte <-> printable-codepoint map used by byte-level BPE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tf {

struct CodepointClass {
  bool letter = false;       // L*
  bool number = false;       // N*
  bool punctuation = false;  // P*
  bool symbol = false;       // S*
  bool mark = false;         // M*
  bool nonspacing_mark = false;  // Mn
  bool whitespace = false;   // White_Space: \t\n\v\f\r, space, Zs, U+0085, U+2028/9
  bool control = false;      // C* (Cc, Cf, Co, Cs, Cn)
};

CodepointClass ClassifyCodepoint(uint32_t cp);
uint32_t ToLowerCodepoint(uint32_t cp);

// Decodes UTF-8; each invalid sequence becomes one U+FFFD.
std::vector<uint32_t> DecodeCodepoints(std::string_view text);
std::string EncodeCodepoints(const std::vector<uint32_t>& cps);

// Canonical decomposition (NFD) of a sequence of code points.
std::vector<uint32_t> NormalizeNfd(const std::vector<uint32_t>& cps);

// GPT-2 byte-level encoding: every byte maps to one printable code point
// (e.g. ' ' -> U+0120 'Ġ', '\n' -> U+010A 'Ċ').
const std::string& ByteToBpeChar(uint8_t byte);
// Inverse for one code point; nullopt if it is not in the map.
std::optional<uint8_t> BpeCharToByte(uint32_t cp);

}  // namespace tf
