#include "server/reasoning_splitter.h"

#include <algorithm>

namespace tf {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t PartialTagSuffix(std::string_view s, std::string_view tag) {
  for (size_t len = std::min(s.size(), tag.size() - 1); len > 0; --len) {
    if (s.substr(s.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(bool in_reasoning)
    : state_(in_reasoning ? State::kReasoning : State::kMaybeOpen) {}

ReasoningSplitter::Parts ReasoningSplitter::Push(std::string_view text) {
  Parts out;
  pending_.append(text);
  if (state_ == State::kMaybeOpen) {
    const size_t start = pending_.find_first_not_of(" \t\r\n");
    if (start == std::string::npos) return out;
    const std::string_view rest = std::string_view(pending_).substr(start);
    if (rest.substr(0, kOpen.size()) == kOpen) {
      pending_.erase(0, start + kOpen.size());
      state_ = State::kReasoning;
    } else if (kOpen.substr(0, rest.size()) == rest) {
      return out;  // could still become <think>
    } else {
      state_ = State::kContent;
    }
  }
  if (state_ == State::kReasoning) {
    const size_t close = pending_.find(kClose);
    if (close == std::string::npos) {
      const size_t hold = PartialTagSuffix(pending_, kClose);
      out.reasoning = pending_.substr(0, pending_.size() - hold);
      pending_.erase(0, pending_.size() - hold);
      return out;
    }
    out.reasoning = pending_.substr(0, close);
    pending_.erase(0, close + kClose.size());
    state_ = State::kAfterReasoning;
  }
  if (state_ == State::kAfterReasoning) {
    // The blank lines a model writes after </think> are not content.
    const size_t start = pending_.find_first_not_of("\r\n");
    if (start == std::string::npos) {
      pending_.clear();
      return out;
    }
    pending_.erase(0, start);
    state_ = State::kContent;
  }
  out.content += pending_;
  pending_.clear();
  return out;
}

ReasoningSplitter::Parts ReasoningSplitter::Flush() {
  Parts out;
  if (state_ == State::kReasoning) out.reasoning = pending_;
  else if (state_ != State::kAfterReasoning) out.content = pending_;
  pending_.clear();
  return out;
}

}  // namespace tf
