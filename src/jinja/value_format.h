// Text forms of Jinja values as Python produces them: str() for output,
// repr() inside containers, json.dumps() for the tojson filter (as the
// Hugging Face renderer overrides it: ensure_ascii=False, Python's default
// separators), and conversion from parsed JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "jinja/value.h"

namespace tf::jinja {

std::string PyStr(const Value& v);
std::string PyRepr(const Value& v);
std::string PyFloatRepr(double d);

struct JsonStyle {
  int indent = -1;  // < 0: one line
  bool sort_keys = false;
  std::string item_separator;  // empty: Python's default for the indent
  std::string key_separator;
  bool has_separators = false;
  bool ensure_ascii = false;  // escape every non-ASCII character as \uXXXX
};
// Throws JinjaError for values JSON cannot hold (Undefined, callables).
std::string ToJson(const Value& v, const JsonStyle& style);

Value FromJson(const nlohmann::ordered_json& j);

}  // namespace tf::jinja
