// Keeps generated text a valid JSON object (response_format json_object):
// a byte-level pushdown recognizer of the JSON grammar that says whether a
// candidate token's text can extend the output, and when the object is
// complete. Depth is bounded so hostile output cannot grow the stack.
#pragma once

#include <cstdint>
#include <string_view>
#include <array>

namespace tf {

class JsonRecognizer {
 public:
  static constexpr int kMaxDepth = 64;
  // Consecutive whitespace bytes allowed (none before the object): enough
  // for pretty-printing, never a way to stall without progress.
  static constexpr int kMaxWhitespaceRun = 32;
  // Feeds bytes; false (state unchanged) if any byte would make the text
  // not a prefix of a JSON object.
  bool Feed(std::string_view bytes);
  bool complete() const { return state_ == State::kDone; }

 private:
  enum class State : uint8_t {
    kStart,        // before the top-level object
    kValue,        // expecting a value
    kObjectFirst,  // after '{': key or '}'
    kKey,          // after ',' in an object: a key
    kColon,        // after a key
    kAfterValue,   // after a value: ',' or the closer
    kArrayFirst,   // after '[': value or ']'
    kString,       // inside a string
    kEscape,       // after a backslash
    kUnicode,      // inside \uXXXX (counter in aux_)
    kNumber,       // inside a number (phase in aux_)
    kLiteral,      // inside true/false/null (rest in literal_)
    kDone,
  };
  bool Step(uint8_t c);
  bool StepNumber(uint8_t c, bool* reprocess);
  bool CloseValue();
  State state_ = State::kStart;
  uint8_t aux_ = 0;
  bool string_is_key_ = false;
  const char* literal_ = nullptr;
  std::array<char, kMaxDepth> stack_{};  // '{' or '['
  int depth_ = 0;
  int whitespace_run_ = 0;
};

}  // namespace tf
