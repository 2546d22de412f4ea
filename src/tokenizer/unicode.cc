#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <mutex>
#include <unordered_map>

#include "base/utf8.h"

namespace tf {

CodepointClass ClassifyCodepoint(uint32_t cp) {
  CodepointClass c;
  const utf8proc_category_t cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  switch (cat) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
      c.letter = true;
      break;
    case UTF8PROC_CATEGORY_MN:
      c.nonspacing_mark = true;
      c.mark = true;
      break;
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
      c.mark = true;
      break;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
      c.number = true;
      break;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      c.punctuation = true;
      break;
    case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO:
      c.symbol = true;
      break;
    case UTF8PROC_CATEGORY_ZS:
      c.whitespace = true;
      break;
    case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
      c.whitespace = true;
      break;
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS: case UTF8PROC_CATEGORY_CN:
      c.control = true;
      break;
  }
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) {
    c.whitespace = true;
    c.control = false;
  }
  return c;
}

uint32_t ToLowerCodepoint(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

std::vector<uint32_t> DecodeCodepoints(std::string_view text) {
  std::vector<uint32_t> out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    DecodedCodepoint d = DecodeUtf8(text, pos);
    out.push_back(d.codepoint);
    pos += d.length;
  }
  return out;
}

std::string EncodeCodepoints(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (uint32_t cp : cps) AppendUtf8(cp, &out);
  return out;
}

std::vector<uint32_t> NormalizeNfd(const std::vector<uint32_t>& cps) {
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  utf8proc_int32_t buffer[32];
  for (uint32_t cp : cps) {
    int last_boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(cp), buffer, 32,
        static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &last_boundclass);
    if (n <= 0 || n > 32) {
      out.push_back(cp);
      continue;
    }
    for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<uint32_t>(buffer[i]));
  }
  // Canonical ordering: stable-sort runs of combining marks by class.
  for (size_t i = 1; i < out.size(); ++i) {
    const auto ccc = [](uint32_t c) {
      return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
    };
    for (size_t j = i; j > 0 && ccc(out[j]) != 0 && ccc(out[j - 1]) > ccc(out[j]); --j) {
      std::swap(out[j], out[j - 1]);
    }
  }
  return out;
}

namespace {

struct BpeByteTables {
  std::array<std::string, 256> byte_to_char;
  std::unordered_map<uint32_t, uint8_t> char_to_byte;
};

// Printable Latin-1 bytes map to themselves; the other 68 bytes map, in
// order, to U+0100 upward.
const BpeByteTables& Tables() {
  static const BpeByteTables tables = [] {
    BpeByteTables t;
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(next++);
      t.byte_to_char[b] = EncodeUtf8(cp);
      t.char_to_byte[cp] = static_cast<uint8_t>(b);
    }
    return t;
  }();
  return tables;
}

}  // namespace

const std::string& ByteToBpeChar(uint8_t byte) { return Tables().byte_to_char[byte]; }

std::optional<uint8_t> BpeCharToByte(uint32_t cp) {
  const auto& map = Tables().char_to_byte;
  auto it = map.find(cp);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace tf
