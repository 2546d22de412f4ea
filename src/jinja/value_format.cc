#include "jinja/value_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <utf8proc.h>

#include "base/utf8.h"
#include "jinja/error.h"
#include "jinja/py_operators.h"

namespace tf::jinja {
namespace {

bool IsPrintable(uint32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7F) return false;
  if (cp < 0x7F) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string ReprString(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t pos = 0; pos < s.size();) {
    const DecodedCodepoint d = DecodeUtf8(s, pos);
    const uint32_t cp = d.codepoint;
    if (cp == '\\') out += "\\\\";
    else if (cp == static_cast<uint32_t>(quote)) out += std::string("\\") + quote;
    else if (cp == '\n') out += "\\n";
    else if (cp == '\r') out += "\\r";
    else if (cp == '\t') out += "\\t";
    else if (IsPrintable(cp)) out.append(s, pos, d.length);
    else if (cp < 0x100) out += fmt::format("\\x{:02x}", cp);
    else if (cp < 0x10000) out += fmt::format("\\u{:04x}", cp);
    else out += fmt::format("\\U{:08x}", cp);
    pos += d.length;
  }
  out += quote;
  return out;
}

// json.dumps' string escaping; with ensure_ascii everything outside
// ' '..'~' becomes \uXXXX (surrogate pairs above U+FFFF).
void JsonString(const std::string& s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  for (size_t pos = 0; pos < s.size();) {
    const DecodedCodepoint d = DecodeUtf8(s, pos);
    const uint32_t c = d.codepoint;
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7E && c < 0x10000)) {
          *out += fmt::format("\\u{:04x}", c);
        } else if (ensure_ascii && c >= 0x10000) {
          const uint32_t v = c - 0x10000;
          *out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        } else {
          out->append(s, pos, d.length);
        }
    }
    pos += d.length;
  }
  out->push_back('"');
}

// What json.dumps makes of a dict key: strings as they are, numbers and
// constants in their JSON spelling; other types raise.
std::string JsonKey(const Value& k) {
  switch (k.kind()) {
    case Value::Kind::kString: return k.AsString();
    case Value::Kind::kNone: return "null";
    case Value::Kind::kBool: return k.AsBool() ? "true" : "false";
    case Value::Kind::kInt: return std::to_string(k.AsInt());
    case Value::Kind::kFloat: {
      const double d = k.AsDouble();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      return PyFloatRepr(d);
    }
    default:
      throw JinjaError(fmt::format("keys must be str, int, float, bool or None, not {}", TypeName(k)));
  }
}

void Json(const Value& v, const JsonStyle& st, int depth, std::string* out) {
  const std::string item_sep = st.has_separators ? st.item_separator : (st.indent >= 0 ? "," : ", ");
  const std::string key_sep = st.has_separators ? st.key_separator : ": ";
  auto newline = [&](int d) {
    if (st.indent < 0) return;
    out->push_back('\n');
    out->append(static_cast<size_t>(st.indent) * d, ' ');
  };
  switch (v.kind()) {
    case Value::Kind::kNone: *out += "null"; return;
    case Value::Kind::kBool: *out += v.AsBool() ? "true" : "false"; return;
    case Value::Kind::kInt: *out += std::to_string(v.AsInt()); return;
    case Value::Kind::kFloat: {
      const double d = v.AsDouble();
      if (std::isnan(d)) *out += "NaN";
      else if (std::isinf(d)) *out += d > 0 ? "Infinity" : "-Infinity";
      else *out += PyFloatRepr(d);
      return;
    }
    case Value::Kind::kString: JsonString(v.AsString(), st.ensure_ascii, out); return;
    case Value::Kind::kList: {
      if (v.is_iterator()) throw JinjaError(fmt::format("Object of type {} is not JSON serializable", v.iterator_type()));
      const List& l = v.AsList();
      if (l.empty()) {
        *out += "[]";
        return;
      }
      out->push_back('[');
      for (size_t i = 0; i < l.size(); ++i) {
        if (i > 0) *out += item_sep;
        newline(depth + 1);
        Json(l[i], st, depth + 1, out);
      }
      newline(depth);
      out->push_back(']');
      return;
    }
    case Value::Kind::kDict: {
      const Dict& d = v.AsDict();
      if (d.size() == 0) {
        *out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : d.items) items.push_back(&kv);
      if (st.sort_keys) {  // json.dumps sorts the keys themselves: mixed types raise
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return PyCompare(a->first, b->first) < 0; });
      }
      out->push_back('{');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) *out += item_sep;
        newline(depth + 1);
        JsonString(JsonKey(items[i]->first), st.ensure_ascii, out);
        *out += key_sep;
        Json(items[i]->second, st, depth + 1, out);
      }
      newline(depth);
      out->push_back('}');
      return;
    }
    case Value::Kind::kUndefined:
      throw JinjaError("Object of type Undefined is not JSON serializable");
    case Value::Kind::kCallable:
      throw JinjaError("Object of type function is not JSON serializable");
  }
}

}  // namespace

std::string PyFloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+02"
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  std::string mantissa = sci.substr(0, e);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += fmt::format(".{}", digits.substr(1));
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out;
  }
  if (exponent < 0) {
    out += fmt::format("0.{}{}", std::string(static_cast<size_t>(-exponent - 1), '0'), digits);
    return out;
  }
  const size_t int_len = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_len) {
    out += fmt::format("{}{}.0", digits, std::string(int_len - digits.size(), '0'));
  } else {
    out += fmt::format("{}.{}", digits.substr(0, int_len), digits.substr(int_len));
  }
  return out;
}

std::string PyRepr(const Value& v) {
  if (v.is_string()) return ReprString(v.AsString());
  if (v.is_undefined()) return "Undefined";  // jinja2.Undefined.__repr__
  return PyStr(v);
}

std::string PyStr(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.AsBool() ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.AsInt());
    case Value::Kind::kFloat: return PyFloatRepr(v.AsDouble());
    case Value::Kind::kString: return v.AsString();
    case Value::Kind::kList: {
      if (v.is_iterator()) return fmt::format("<{} object>", v.iterator_type());
      const bool tuple = v.is_tuple();
      std::string out = tuple ? "(" : "[";
      const List& l = v.AsList();
      for (size_t i = 0; i < l.size(); ++i) {
        if (i > 0) out += ", ";
        out += PyRepr(l[i]);
      }
      if (tuple && l.size() == 1) out += ",";  // (x,)
      return out + (tuple ? ")" : "]");
    }
    case Value::Kind::kDict: {
      if (v.is_namespace()) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.AsDict().items) {
        if (!first) out += ", ";
        first = false;
        out += PyRepr(k) + ": " + PyRepr(val);
      }
      return out + "}";
    }
    case Value::Kind::kCallable: return "<function " + v.callable_name() + ">";
  }
  return "";
}

std::string ToJson(const Value& v, const JsonStyle& style) {
  std::string out;
  Json(v, style, 0, &out);
  return out;
}

Value FromJson(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::None();
    case nlohmann::ordered_json::value_t::boolean: return Value::Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      return u <= static_cast<uint64_t>(INT64_MAX) ? Value::Int(static_cast<int64_t>(u))
                                                    : Value::Float(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::Float(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::String(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(FromJson(e));
      return Value::MakeList(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::MakeDict();
      for (auto it = j.begin(); it != j.end(); ++it) d.AsDict().Set(it.key(), FromJson(it.value()));
      return d;
    }
    default: return Value::None();
  }
}

}  // namespace tf::jinja
