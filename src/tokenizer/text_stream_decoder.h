// Turns a stream of token pieces (arbitrary bytes) into valid UTF-8 text as
// it arrives: a character split across tokens is held back until complete,
// and bytes that can never form a character come out as U+FFFD. Never emits
// half a code point.
#pragma once

#include <string>
#include <string_view>

namespace tf {

class TextStreamDecoder {
 public:
  // Returns the text that became complete with `bytes`.
  std::string Push(std::string_view bytes);
  // Returns whatever is held back (an unfinished character becomes U+FFFD).
  std::string Flush();
  size_t pending_bytes() const { return pending_.size(); }

 private:
  std::string pending_;
};

}  // namespace tf
