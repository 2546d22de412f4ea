#include "tokenizer/spm_tokenizer.h"

#include <queue>
#include <string>

namespace tf {
namespace {

// Byte length of the character starting with `lead`; continuation and
// invalid lead bytes count as one byte (they become byte tokens).
int CharLength(uint8_t lead) {
  static constexpr int kByHighNibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kByHighNibble[lead >> 4];
}

struct Symbol {
  int prev;
  int next;
  const char* text;
  size_t length;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
};

// Highest score first; on ties the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

std::string EscapeSpmWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') {
      out += "\xE2\x96\x81";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void SpmTokenizer::Encode(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min<size_t>(text.size() - offset, CharLength(static_cast<uint8_t>(text[offset])));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + length == text.size() ? -1 : index + 1, text.data() + offset, length});
    offset += length;
  }
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view joined(symbols[left].text, symbols[left].length + symbols[right].length);
    auto id = vocab_.Find(joined);
    if (!id) return;
    queue.push({left, right, vocab_.token(*id).score, joined.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Stale: one side was merged away or grew since this pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    EmitSymbol(std::string_view(symbols[i].text, symbols[i].length), out);
  }
}

void SpmTokenizer::EmitSymbol(std::string_view symbol, std::vector<int32_t>* out) const {
  if (auto id = vocab_.Find(symbol)) {
    out->push_back(*id);
    return;
  }
  for (char c : symbol) {
    if (auto id = vocab_.ByteToken(static_cast<uint8_t>(c))) out->push_back(*id);
  }
}

}  // namespace tf
