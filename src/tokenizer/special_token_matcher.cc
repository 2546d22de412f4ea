#include "tokenizer/special_token_matcher.h"

#include <algorithm>

namespace tf {
namespace {
bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
}  // namespace

SpecialTokenMatcher::SpecialTokenMatcher(const Vocab& vocab) : vocab_(vocab) {
  nodes_.emplace_back();
  // special_ids() is longest-first; insert in reverse so that, for two tokens
  // with the same text, the first id wins (Insert overwrites).
  const auto& ids = vocab.special_ids();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) Insert(vocab.token(*it).text, *it);
}

int32_t SpecialTokenMatcher::Child(int32_t node, uint8_t byte) const {
  const auto& children = nodes_[node].children;
  auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1}));
  if (it == children.end() || it->first != byte) return -1;
  return it->second;
}

void SpecialTokenMatcher::Insert(std::string_view text, int32_t token) {
  int32_t node = 0;
  for (char c : text) {
    const uint8_t byte = static_cast<uint8_t>(c);
    int32_t next = Child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& children = nodes_[node].children;
      children.insert(std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{-1})),
                      {byte, next});
    }
    node = next;
  }
  nodes_[node].token = token;
}

int32_t SpecialTokenMatcher::LongestMatch(std::string_view text, size_t pos, bool parse_special,
                                          size_t* length) const {
  int32_t best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = Child(node, static_cast<uint8_t>(text[i]));
    if (node < 0) break;
    const int32_t token = nodes_[node].token;
    if (token < 0) continue;
    const TokenType type = vocab_.token(token).type;
    if (!parse_special && type != TokenType::kUserDefined) continue;
    best = token;
    *length = i + 1 - pos;
  }
  return best;
}

std::vector<TextFragment> SpecialTokenMatcher::Partition(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> out;
  size_t raw_start = 0;
  bool strip_leading_space = false;  // the previous token has rstrip
  auto emit_raw = [&](size_t begin, size_t end, bool lstrip_next) {
    if (strip_leading_space) {
      while (begin < end && IsAsciiSpace(text[begin])) ++begin;
    }
    if (lstrip_next) {
      while (end > begin && IsAsciiSpace(text[end - 1])) --end;
    }
    if (end > begin) out.push_back({text.substr(begin, end - begin), -1});
  };
  for (size_t pos = 0; pos < text.size();) {
    size_t length = 0;
    const int32_t token = nodes_.size() > 1 ? LongestMatch(text, pos, parse_special, &length) : -1;
    if (token < 0) {
      ++pos;
      continue;
    }
    emit_raw(raw_start, pos, vocab_.token(token).lstrip);
    out.push_back({std::string_view(), token});
    strip_leading_space = vocab_.token(token).rstrip;
    pos += length;
    raw_start = pos;
  }
  emit_raw(raw_start, text.size(), false);
  return out;
}

}  // namespace tf
