// UTF-8 helpers shared by tokenizers, detokenizers and the server. Decoding
// never reads past the end and reports invalid sequences instead of guessing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tf {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

struct DecodedCodepoint {
  uint32_t codepoint;  // kReplacementChar when !valid
  int length;          // bytes consumed, >= 1 (1 for an invalid byte)
  bool valid;
};

// Decodes the code point starting at text[pos] (pos < text.size()). Rejects
// overlong forms, surrogates and values above U+10FFFF.
DecodedCodepoint DecodeUtf8(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of `codepoint` (must be <= 0x10FFFF).
void AppendUtf8(uint32_t codepoint, std::string* out);
std::string EncodeUtf8(uint32_t codepoint);

// Length a sequence starting with `lead` would have: 1..4, or 0 when `lead`
// cannot start a sequence (a continuation byte or 0xF8..0xFF).
int Utf8SequenceLength(uint8_t lead);

bool IsValidUtf8(std::string_view text);

// Replaces every invalid sequence with U+FFFD.
std::string SanitizeUtf8(std::string_view text);

}  // namespace tf
