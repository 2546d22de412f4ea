#include "tokenizer/text_stream_decoder.h"

#include "base/utf8.h"

namespace tf {

std::string TextStreamDecoder::Push(std::string_view bytes) {
  pending_.append(bytes);
  std::string out;
  size_t pos = 0;
  while (pos < pending_.size()) {
    const DecodedCodepoint d = DecodeUtf8(pending_, pos);
    if (d.valid) {
      out.append(pending_, pos, d.length);
      pos += d.length;
      continue;
    }
    const int expected = Utf8SequenceLength(static_cast<uint8_t>(pending_[pos]));
    const bool unfinished = expected > 1 && pos + d.length == pending_.size() && d.length < expected;
    if (unfinished) break;  // wait for the rest of the character
    AppendUtf8(kReplacementChar, &out);
    pos += d.length;
  }
  pending_.erase(0, pos);
  return out;
}

std::string TextStreamDecoder::Flush() {
  std::string out = pending_.empty() ? std::string() : SanitizeUtf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace tf
