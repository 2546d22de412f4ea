// Finds stop strings in streamed text without ever emitting part of one:
// text that could still turn into a stop string is held back until the
// next piece decides it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tf {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string was found; text ends before it
  };
  Result Push(std::string_view text);
  // The held-back text, once generation ends without a stop.
  std::string Flush();

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace tf
