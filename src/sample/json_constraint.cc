#include "sample/json_constraint.h"

namespace tf {
namespace {
bool IsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(uint8_t c) { return c >= '0' && c <= '9'; }
bool IsHex(uint8_t c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
}  // namespace

bool JsonRecognizer::Feed(std::string_view bytes) {
  const JsonRecognizer saved = *this;
  for (char ch : bytes) {
    if (!Step(static_cast<uint8_t>(ch))) {
      *this = saved;
      return false;
    }
  }
  return true;
}

bool JsonRecognizer::CloseValue() {
  state_ = depth_ == 0 ? State::kDone : State::kAfterValue;
  return true;
}

bool JsonRecognizer::StepNumber(uint8_t c, bool* reprocess) {
  // aux_: 0 after '-', 1 after a leading 0, 2 integer digits, 3 after '.',
  // 4 fraction digits, 5 after 'e', 6 after the exponent sign, 7 exponent digits.
  switch (aux_) {
    case 0: if (c == '0') { aux_ = 1; return true; } if (IsDigit(c)) { aux_ = 2; return true; } return false;
    case 3: if (IsDigit(c)) { aux_ = 4; return true; } return false;
    case 5: if (c == '+' || c == '-') { aux_ = 6; return true; } [[fallthrough]];
    case 6: if (IsDigit(c)) { aux_ = 7; return true; } return false;
    default: break;
  }
  if (IsDigit(c) && aux_ != 1) return true;  // 2, 4, 7 keep their digits
  if (c == '.' && (aux_ == 1 || aux_ == 2)) { aux_ = 3; return true; }
  if ((c == 'e' || c == 'E') && aux_ != 7) { aux_ = 5; return true; }
  *reprocess = true;  // the number ended; c belongs to what follows
  return CloseValue();
}

bool JsonRecognizer::Step(uint8_t c) {
  if (state_ != State::kString && state_ != State::kEscape && state_ != State::kUnicode && IsSpace(c)) {
    if (state_ == State::kStart || ++whitespace_run_ > kMaxWhitespaceRun) return false;
  } else {
    whitespace_run_ = 0;
  }
  switch (state_) {
    case State::kStart:
      if (c != '{') return false;
      stack_[depth_++] = '{';
      state_ = State::kObjectFirst;
      return true;
    case State::kObjectFirst:
    case State::kKey:
      if (IsSpace(c)) return true;
      if (c == '}' && state_ == State::kObjectFirst) { --depth_; return CloseValue(); }
      if (c != '"') return false;
      state_ = State::kString;
      string_is_key_ = true;
      return true;
    case State::kColon:
      if (IsSpace(c)) return true;
      if (c != ':') return false;
      state_ = State::kValue;
      return true;
    case State::kArrayFirst:
      if (c == ']') { --depth_; return CloseValue(); }
      [[fallthrough]];
    case State::kValue:
      if (IsSpace(c)) return true;
      if (c == '{' || c == '[') {
        if (depth_ == kMaxDepth) return false;
        stack_[depth_++] = static_cast<char>(c);
        state_ = c == '{' ? State::kObjectFirst : State::kArrayFirst;
        return true;
      }
      if (c == '"') { state_ = State::kString; string_is_key_ = false; return true; }
      if (c == '-' || IsDigit(c)) { state_ = State::kNumber; aux_ = c == '-' ? 0 : (c == '0' ? 1 : 2); return true; }
      if (c == 't') literal_ = "rue";
      else if (c == 'f') literal_ = "alse";
      else if (c == 'n') literal_ = "ull";
      else return false;
      state_ = State::kLiteral;
      return true;
    case State::kAfterValue:
      if (IsSpace(c)) return true;
      if (c == ',') { state_ = stack_[depth_ - 1] == '{' ? State::kKey : State::kValue; return true; }
      if ((c == '}' && stack_[depth_ - 1] == '{') || (c == ']' && stack_[depth_ - 1] == '[')) {
        --depth_;
        return CloseValue();
      }
      return false;
    case State::kString:
      if (c == '"') {
        if (string_is_key_) { state_ = State::kColon; return true; }
        return CloseValue();
      }
      if (c == '\\') { state_ = State::kEscape; return true; }
      return c >= 0x20;
    case State::kEscape:
      if (c == 'u') { state_ = State::kUnicode; aux_ = 0; return true; }
      if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
        state_ = State::kString;
        return true;
      }
      return false;
    case State::kUnicode:
      if (!IsHex(c)) return false;
      if (++aux_ == 4) state_ = State::kString;
      return true;
    case State::kNumber: {
      bool reprocess = false;
      if (!StepNumber(c, &reprocess)) return false;
      return reprocess ? Step(c) : true;
    }
    case State::kLiteral:
      if (static_cast<uint8_t>(*literal_) != c) return false;
      if (*++literal_ == '\0') return CloseValue();
      return true;
    case State::kDone:
      return false;
  }
  return false;
}

}  // namespace tf
