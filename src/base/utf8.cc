#include "base/utf8.h"

namespace tf {

int Utf8SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // continuation byte, or overlong 2-byte lead
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

// Valid range of the second byte for a lead byte (Unicode table 3-7); the
// narrower ranges exclude overlong forms, surrogates and values > U+10FFFF.
static void SecondByteRange(uint8_t lead, uint8_t* lo, uint8_t* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead == 0xE0) *lo = 0xA0;
  if (lead == 0xED) *hi = 0x9F;
  if (lead == 0xF0) *lo = 0x90;
  if (lead == 0xF4) *hi = 0x8F;
}

DecodedCodepoint DecodeUtf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  const int length = Utf8SequenceLength(lead);
  if (length == 0) return {kReplacementChar, 1, false};
  if (length == 1) return {lead, 1, true};
  uint8_t lo, hi;
  SecondByteRange(lead, &lo, &hi);
  uint32_t cp = lead & (0x7F >> length);
  // An invalid sequence consumes its maximal valid prefix (at least the lead),
  // so one broken character becomes one U+FFFD.
  for (int i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return {kReplacementChar, i, false};
    const uint8_t b = byte(pos + i);
    const uint8_t min = i == 1 ? lo : 0x80;
    const uint8_t max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return {kReplacementChar, i, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, length, true};
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(uint32_t codepoint) {
  std::string out;
  AppendUtf8(codepoint, &out);
  return out;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    DecodedCodepoint d = DecodeUtf8(text, pos);
    if (!d.valid) return false;
    pos += d.length;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    DecodedCodepoint d = DecodeUtf8(text, pos);
    if (d.valid) {
      out.append(text.substr(pos, d.length));
    } else {
      AppendUtf8(kReplacementChar, &out);
    }
    pos += d.length;
  }
  return out;
}

}  // namespace tf
