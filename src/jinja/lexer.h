// Splits a template into text and tags with Jinja's whitespace rules as the
// Hugging Face renderer configures them (trim_blocks, lstrip_blocks, "-"/"+"
// modifiers, newlines normalized, one trailing newline dropped), then turns
// a tag's inside into expression tokens.
#pragma once

#include <string>
#include <vector>

namespace tf::jinja {

struct Segment {
  enum class Kind { kText, kExpression, kStatement };
  Kind kind;
  std::string text;  // the text, or the tag's inside (without delimiters)
  int line;
};

// Throws JinjaError on an unterminated tag.
std::vector<Segment> SplitTemplate(const std::string& source);

struct Token {
  enum class Kind { kName, kString, kInt, kFloat, kOperator, kEnd };
  Kind kind;
  std::string text;  // name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0.0;
};

// Throws JinjaError on a malformed expression (bad string, stray character).
std::vector<Token> TokenizeTag(const std::string& inside, int line);

}  // namespace tf::jinja
