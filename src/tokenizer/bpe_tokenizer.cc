#include "tokenizer/bpe_tokenizer.h"

#include <queue>
#include <string>

#include "base/utf8.h"
#include "tokenizer/unicode.h"

namespace tf {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;  // into the byte-encoded word
  size_t length;  // 0 once merged away
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  std::string text;  // what the pair spelled when queued
};

// Lowest rank first; on ties the leftmost pair.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(const Vocab& vocab) {
  TF_ASSIGN_OR_RETURN(auto pre, PreTokenizer::ForName(vocab.pre()));
  const std::string& p = vocab.pre();
  const bool ignore_merges = p == "llama3" || p == "llama-v3" || p == "llama-bpe" || p == "tekken";
  return std::unique_ptr<BpeTokenizer>(new BpeTokenizer(vocab, std::move(pre), ignore_merges));
}

void BpeTokenizer::Encode(std::string_view text, std::vector<int32_t>* out) const {
  const std::string valid = IsValidUtf8(text) ? std::string(text) : SanitizeUtf8(text);
  for (std::string_view piece : pre_->Split(valid)) {
    std::string word;
    word.reserve(piece.size() * 2);
    for (char c : piece) word += ByteToBpeChar(static_cast<uint8_t>(c));
    EncodeWord(word, out);
  }
}

void BpeTokenizer::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (ignore_merges_) {
    if (auto id = vocab_.Find(word)) {
      out->push_back(*id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    const size_t length = DecodeUtf8(word, offset).length;
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, offset + length == word.size() ? -1 : index + 1, offset, length});
    offset += length;
  }
  auto text_of = [&](const Symbol& s) { return word.substr(s.offset, s.length); };
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view l = text_of(symbols[left]), r = text_of(symbols[right]);
    auto rank = vocab_.MergeRank(l, r);
    if (!rank) return;
    queue.push({left, right, *rank, std::string(l) + std::string(r)});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0) continue;
    if (left.offset + left.length != right.offset ||
        word.substr(left.offset, left.length + right.length) != bigram.text) {
      continue;  // outdated: a neighbour merged since this pair was queued
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text_of(symbols[i]);
    if (auto id = vocab_.Find(piece)) {
      out->push_back(*id);
      continue;
    }
    // Not a token: fall back to one token per character of the piece.
    for (size_t offset = 0; offset < piece.size();) {
      const size_t length = DecodeUtf8(piece, offset).length;
      if (auto id = vocab_.Find(piece.substr(offset, length))) out->push_back(*id);
      else if (vocab_.unk_id() >= 0) out->push_back(vocab_.unk_id());
      offset += length;
    }
  }
}

}  // namespace tf
