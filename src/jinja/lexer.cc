#include "jinja/lexer.h"

#include <cctype>

#include <fmt/format.h>

#include "base/utf8.h"
#include "jinja/error.h"

namespace tf::jinja {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string NormalizeNewlines(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// End of a {{ }} or {% %} tag starting at `from`, skipping string literals
// and, as Jinja2's lexer does, brackets: `{{ {'a': {'b': 1}} }}` ends at
// the last `}}`, not inside the dict literal.
size_t FindTagEnd(const std::string& s, size_t from, const char* close) {
  char quote = 0;
  int depth = 0;
  for (size_t i = from; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      continue;
    }
    if (depth == 0 && c == close[0] && s[i + 1] == close[1]) return i;
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
  }
  return std::string::npos;
}

int LineAt(const std::string& s, size_t pos) {
  int line = 1;
  for (size_t i = 0; i < pos && i < s.size(); ++i) line += s[i] == '\n';
  return line;
}

struct Splitter {
  const std::string& src;
  std::vector<Segment> out;
  std::string pending;        // text not yet emitted (may span comments)
  size_t data_begin = 0;      // where the text since the last tag starts in `pending`
  bool line_starting = true;  // the last tag (or the template start) ended a line
  bool strip_next = false;    // "-" on the last tag's end

  void AddText(std::string text) {
    if (strip_next) {
      size_t i = 0;
      while (i < text.size() && IsSpace(text[i])) ++i;
      text.erase(0, i);
      strip_next = false;
    }
    pending += text;
  }

  // Whitespace control before a tag, on the text since the previous tag.
  void BeforeTag(char modifier, bool is_block) {
    if (modifier == '-') {
      size_t end = pending.size();
      while (end > data_begin && IsSpace(pending[end - 1])) --end;
      pending.resize(end);
    } else if (modifier != '+' && is_block) {  // lstrip_blocks
      const size_t nl = pending.rfind('\n');
      const bool has_newline = nl != std::string::npos && nl >= data_begin;
      const size_t line_begin = has_newline ? nl + 1 : data_begin;
      if (has_newline || line_starting) {
        bool blank = line_begin < pending.size();
        for (size_t i = line_begin; i < pending.size(); ++i) blank = blank && IsSpace(pending[i]);
        if (blank) pending.resize(line_begin);
      }
    }
  }

  void AfterTag(bool ends_line) {
    data_begin = pending.size();
    line_starting = ends_line;
  }

  void Flush() {
    if (!pending.empty()) out.push_back({Segment::Kind::kText, std::move(pending), 0});
    pending.clear();
    data_begin = 0;
  }
};

}  // namespace

std::vector<Segment> SplitTemplate(const std::string& raw) {
  const std::string src = NormalizeNewlines(raw);
  Splitter sp{src, {}, {}, 0, true, false};
  size_t pos = 0;
  while (pos < src.size()) {
    const size_t open = src.find('{', pos);
    if (open == std::string::npos || open + 1 >= src.size()) {
      sp.AddText(src.substr(pos));
      break;
    }
    const char kind = src[open + 1];
    if (kind != '{' && kind != '%' && kind != '#') {
      sp.AddText(src.substr(pos, open + 1 - pos));
      pos = open + 1;
      continue;
    }
    sp.AddText(src.substr(pos, open - pos));
    const char modifier = open + 2 < src.size() && (src[open + 2] == '-' || src[open + 2] == '+') ? src[open + 2] : 0;
    const size_t inner_begin = open + 2 + (modifier != 0 ? 1 : 0);
    const bool is_block = kind != '{';
    size_t close;
    if (kind == '#') {
      close = src.find("#}", inner_begin);
    } else {
      close = FindTagEnd(src, inner_begin, kind == '{' ? "}}" : "%}");
    }
    if (close == std::string::npos) {
      throw JinjaError(fmt::format("line {}: unterminated tag", LineAt(src, open)));
    }
    const bool strip_after = close > inner_begin && src[close - 1] == '-';
    const size_t inner_end = strip_after ? close - 1 : close;
    sp.BeforeTag(modifier, is_block);
    size_t after = close + 2;
    const std::string inner = src.substr(inner_begin, inner_end - inner_begin);
    if (kind == '%') {
      // {% raw %} ... {% endraw %} is text.
      size_t a = 0;
      while (a < inner.size() && IsSpace(inner[a])) ++a;
      size_t b = inner.size();
      while (b > a && IsSpace(inner[b - 1])) --b;
      if (inner.substr(a, b - a) == "raw") {
        size_t end_tag = src.find("endraw", after);
        size_t tag_open = end_tag == std::string::npos ? end_tag : src.rfind("{%", end_tag);
        size_t tag_close = end_tag == std::string::npos ? end_tag : src.find("%}", end_tag);
        if (tag_open == std::string::npos || tag_close == std::string::npos) {
          throw JinjaError(fmt::format("line {}: raw block without endraw", LineAt(src, open)));
        }
        std::string body = src.substr(after, tag_open - after);
        if (strip_after) {
          size_t i = 0;
          while (i < body.size() && IsSpace(body[i])) ++i;
          body.erase(0, i);
        }
        sp.pending += body;
        after = tag_close + 2;
        if (after < src.size() && src[after] == '\n') ++after;
        pos = after;
        sp.AfterTag(src[after - 1] == '\n');
        continue;
      }
    }
    if (kind != '#') {
      sp.Flush();
      sp.out.push_back({kind == '{' ? Segment::Kind::kExpression : Segment::Kind::kStatement, inner,
                        LineAt(src, open)});
    }
    if (strip_after) {
      sp.strip_next = true;
    } else if (is_block && after < src.size() && src[after] == '\n') {
      ++after;  // trim_blocks
    }
    sp.AfterTag(src[after - 1] == '\n');
    pos = after;
  }
  // keep_trailing_newline is off: one final newline is dropped.
  if (!sp.pending.empty() && sp.pending.back() == '\n') sp.pending.pop_back();
  sp.Flush();
  return std::move(sp.out);
}

namespace {

std::string DecodeStringLiteral(const std::string& s, size_t* pos, int line) {
  const char quote = s[*pos];
  std::string out;
  size_t i = *pos + 1;
  for (; i < s.size() && s[i] != quote; ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) break;
    const char e = s[i];
    switch (e) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case '0': out.push_back('\0'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'v': out.push_back('\v'); break;
      case 'a': out.push_back('\a'); break;
      case '\n': break;  // line continuation
      case 'x': case 'u': case 'U': {
        const int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        if (i + digits >= s.size() + 0 && i + digits > s.size() - 1) {
          throw JinjaError(fmt::format("line {}: truncated \\{} escape", line, e));
        }
        uint32_t cp = 0;
        for (int k = 1; k <= digits; ++k) {
          const char h = s[i + k];
          cp <<= 4;
          if (h >= '0' && h <= '9') cp |= h - '0';
          else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
          else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
          else throw JinjaError(fmt::format("line {}: bad \\{} escape", line, e));
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
        AppendUtf8(cp, &out);
        i += digits;
        break;
      }
      default:
        if (e == '\\' || e == '\'' || e == '"') {
          out.push_back(e);
        } else {  // unknown escapes stay as written, as in Python
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  if (i >= s.size()) throw JinjaError(fmt::format("line {}: unterminated string", line));
  *pos = i + 1;
  return out;
}

}  // namespace

std::vector<Token> TokenizeTag(const std::string& s, int line) {
  static const char* const kOperators[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~",
                                           "<",  ">",  "=",  "(",  ")",  "[",  "]", "{", "}", ",", ".", ":", "|"};
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      tokens.push_back({Token::Kind::kName, s.substr(i, j - i)});
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      bool is_float = false;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          is_float = true;
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      std::string digits;
      for (size_t k = i; k < j; ++k) {
        if (s[k] != '_') digits.push_back(s[k]);
      }
      Token t{is_float ? Token::Kind::kFloat : Token::Kind::kInt, digits};
      try {
        if (is_float) t.float_value = std::stod(digits);
        else t.int_value = std::stoll(digits);
      } catch (const std::exception&) {
        throw JinjaError(fmt::format("line {}: number {} out of range", line, digits));
      }
      tokens.push_back(t);
      i = j;
      continue;
    }
    if (c == '\'' || c == '"') {
      Token t{Token::Kind::kString, DecodeStringLiteral(s, &i, line)};
      tokens.push_back(std::move(t));
      continue;
    }
    bool matched = false;
    for (const char* op : kOperators) {
      const size_t len = std::char_traits<char>::length(op);
      if (s.compare(i, len, op) == 0) {
        tokens.push_back({Token::Kind::kOperator, op});
        i += len;
        matched = true;
        break;
      }
    }
    if (!matched) throw JinjaError(fmt::format("line {}: unexpected character '{}'", line, c));
  }
  tokens.push_back({Token::Kind::kEnd, ""});
  return tokens;
}

}  // namespace tf::jinja
