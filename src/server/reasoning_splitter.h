// Splits a reasoning model's output into reasoning_content (inside
// <think>...</think>) and content, as it streams: a tag split across
// deltas is held back until it is decided.
#pragma once

#include <string>
#include <string_view>

namespace tf {

class ReasoningSplitter {
 public:
  // `in_reasoning`: the prompt already opened <think> (templates that end
  // the generation prompt with it), so output starts inside the reasoning.
  explicit ReasoningSplitter(bool in_reasoning);

  struct Parts {
    std::string reasoning;
    std::string content;
  };
  Parts Push(std::string_view text);
  Parts Flush();

 private:
  enum class State { kMaybeOpen, kReasoning, kAfterReasoning, kContent };
  State state_;
  std::string pending_;
};

}  // namespace tf
