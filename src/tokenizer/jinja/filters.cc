// Jinja's filters, tests and global functions, with the semantics of
// Jinja2 3.x as the Hugging Face chat-template renderer configures it.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "base/utf8.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/value_format.h"

namespace tf::jinja {
namespace {

[[noreturn]] void Fail(const std::string& what) { throw JinjaError(what); }

Value Arg(const CallArgs& a, size_t i, const char* name, Value fallback = Value()) {
  for (const auto& [k, v] : a.keyword) {
    if (k == name) return v;
  }
  if (i < a.positional.size()) return a.positional[i];
  return fallback;
}

Value CallMethod(const Value& obj, const char* name, std::vector<Value> args = {}) {
  Value m = GetMethod(obj, name);
  CallArgs a;
  a.positional = std::move(args);
  return m.Call(a);
}

// item.attr, with dotted paths ("function.name") and integer parts.
Value Attribute(const Value& item, const std::string& path) {
  Value cur = item;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (cur.is_dict()) {
      const Value* v = cur.AsDict().Find(part);
      cur = v != nullptr ? *v : Value::Undefined(part);
    } else if (cur.is_list() && !part.empty() && std::isdigit(static_cast<unsigned char>(part[0]))) {
      const size_t i = std::stoul(part);
      cur = i < cur.AsList().size() ? cur.AsList()[i] : Value::Undefined(part);
    } else {
      cur = Value::Undefined(part);
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Python %-formatting for the format filter: %s %r %d %i %f %%.
std::string PercentFormat(const std::string& fmt_str, const List& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    if (fmt_str[i] != '%') {
      out.push_back(fmt_str[i]);
      continue;
    }
    if (++i >= fmt_str.size()) Fail("format: incomplete format");
    const char c = fmt_str[i];
    if (c == '%') {
      out.push_back('%');
      continue;
    }
    if (next >= args.size()) Fail("format: not enough arguments");
    const Value& v = args[next++];
    if (c == 's') out += PyStr(v);
    else if (c == 'r') out += PyRepr(v);
    else if (c == 'd' || c == 'i') out += std::to_string(v.AsInt());
    else if (c == 'f') out += fmt::format("{:.6f}", v.AsDouble());
    else Fail(fmt::format("format: unsupported conversion %{}", c));
  }
  return out;
}

Value ToJsonFilter(const Value& input, CallArgs& a) {
  JsonStyle style;
  const Value indent = Arg(a, 0, "indent", Value::None());
  if (!indent.is_none() && !indent.is_undefined()) style.indent = static_cast<int>(indent.AsInt());
  style.sort_keys = Arg(a, SIZE_MAX, "sort_keys", Value::Bool(false)).Truthy();
  const Value seps = Arg(a, SIZE_MAX, "separators", Value::None());
  if (seps.is_list() && seps.AsList().size() == 2) {
    style.has_separators = true;
    style.item_separator = PyStr(seps.AsList()[0]);
    style.key_separator = PyStr(seps.AsList()[1]);
  }
  return Value::String(ToJson(input, style));
}

bool TestValue(Interpreter& in, const Value& v, const Value& test_name, const List& extra) {
  CallArgs a;
  a.positional = extra;
  return ApplyTest(in, PyStr(test_name), v, a);
}

// select / reject / selectattr / rejectattr.
Value Select(Interpreter& in, const Value& seq, CallArgs& a, bool by_attribute, bool keep_if) {
  List out;
  const size_t first_test_arg = by_attribute ? 1 : 0;
  const std::string attr = by_attribute ? PyStr(Arg(a, 0, "attribute")) : "";
  const bool has_test = a.positional.size() > first_test_arg;
  List extra;
  for (size_t i = first_test_arg + 1; i < a.positional.size(); ++i) extra.push_back(a.positional[i]);
  for (const Value& item : Iterate(seq)) {
    const Value subject = by_attribute ? Attribute(item, attr) : item;
    const bool r = has_test ? TestValue(in, subject, a.positional[first_test_arg], extra) : subject.Truthy();
    if (r == keep_if) out.push_back(item);
  }
  return Value::MakeIterator(std::move(out));
}

Value MapFilter(Interpreter& in, const Value& seq, CallArgs& a) {
  List out;
  const Value attr = Arg(a, SIZE_MAX, "attribute");
  if (!attr.is_undefined()) {
    const Value fallback = Arg(a, SIZE_MAX, "default");
    for (const Value& item : Iterate(seq)) {
      Value v = Attribute(item, PyStr(attr));
      out.push_back(v.is_undefined() && !fallback.is_undefined() ? fallback : v);
    }
    return Value::MakeIterator(std::move(out));
  }
  if (a.positional.empty()) Fail("map needs a filter name or attribute=");
  const std::string filter = PyStr(a.positional[0]);
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  for (const Value& item : Iterate(seq)) {
    CallArgs copy = rest;
    out.push_back(ApplyFilter(in, filter, item, copy));
  }
  return Value::MakeIterator(std::move(out));
}

std::string SortKey(const Value& v, bool case_sensitive) {
  const std::string s = PyStr(v);
  if (case_sensitive) return s;
  return PyStr(CallMethod(Value::String(s), "lower"));
}

Value Indent(const std::string& s, CallArgs& a) {
  const Value w = Arg(a, 0, "width", Value::Int(4));
  const std::string pad = w.is_string() ? w.AsString() : std::string(static_cast<size_t>(std::max<int64_t>(0, w.AsInt())), ' ');
  const bool first = Arg(a, 1, "first", Value::Bool(false)).Truthy();
  const bool blank = Arg(a, 2, "blank", Value::Bool(false)).Truthy();
  std::string out;
  size_t pos = 0;
  bool is_first = true;
  while (true) {
    const size_t nl = s.find('\n', pos);
    const std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    const bool indent = (is_first ? first : true) && (blank || !line.empty());
    out += (indent ? pad : "") + line;
    if (nl == std::string::npos) break;
    out += '\n';
    pos = nl + 1;
    is_first = false;
  }
  return Value::String(out);
}

Value StringFilter(const std::string& name, const Value& input, CallArgs& a) {
  const Value s = Value::String(PyStr(input));
  if (name == "trim") return CallMethod(s, "strip", {Arg(a, 0, "chars", Value::None())});
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize") return CallMethod(s, name.c_str());
  if (name == "replace") {
    return CallMethod(s, "replace", {Value::String(PyStr(Arg(a, 0, "old"))), Value::String(PyStr(Arg(a, 1, "new"))),
                                     Arg(a, 2, "count", Value::Int(-1))});
  }
  if (name == "indent") return Indent(s.AsString(), a);
  if (name == "escape" || name == "e") return Value::String(HtmlEscape(s.AsString()));
  if (name == "wordcount") return Value::Int(static_cast<int64_t>(CallMethod(s, "split").AsList().size()));
  if (name == "format") {
    List args = a.positional;
    return Value::String(PercentFormat(s.AsString(), args));
  }
  Fail(fmt::format("No filter named '{}'", name));
}

}  // namespace

Value ApplyFilter(Interpreter& in, const std::string& name, const Value& input, CallArgs& a) {
  if (name == "length" || name == "count") return Value::Int(PyLen(input));
  if (name == "tojson") return ToJsonFilter(input, a);
  if (name == "string") return Value::String(PyStr(input));
  if (name == "safe") return input;
  if (name == "default" || name == "d") {
    const bool boolean = Arg(a, 1, "boolean", Value::Bool(false)).Truthy();
    if (input.is_undefined() || (boolean && !input.Truthy())) return Arg(a, 0, "default_value", Value::String(""));
    return input;
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::MakeIterator({});
    if (!input.is_dict()) Fail(fmt::format("items: '{}' is not a mapping", KindName(input.kind())));
    return Value::MakeIterator(CallMethod(input, "items").AsList());
  }
  if (name == "list") return Value::MakeList(Iterate(input));
  if (name == "first" || name == "last") {
    List items = Iterate(input);
    if (items.empty()) return Value::Undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    const Value sep = Arg(a, 0, "d", Value::String(""));
    const Value attr = Arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : Iterate(input)) {
      if (!first) out += PyStr(sep);
      first = false;
      out += PyStr(attr.is_undefined() ? item : Attribute(item, PyStr(attr)));
    }
    return Value::String(out);
  }
  if (name == "select") return Select(in, input, a, false, true);
  if (name == "reject") return Select(in, input, a, false, false);
  if (name == "selectattr") return Select(in, input, a, true, true);
  if (name == "rejectattr") return Select(in, input, a, true, false);
  if (name == "map") return MapFilter(in, input, a);
  if (name == "unique") {
    const bool case_sensitive = Arg(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
    const Value attr = Arg(a, 1, "attribute");
    List out;
    std::set<std::string> seen;
    for (const Value& item : Iterate(input)) {
      const Value key = attr.is_undefined() ? item : Attribute(item, PyStr(attr));
      const std::string k = std::string(KindName(key.kind())) + ":" +
                            (key.is_string() ? SortKey(key, case_sensitive) : PyRepr(key));
      if (seen.insert(k).second) out.push_back(item);
    }
    return Value::MakeIterator(std::move(out));
  }
  if (name == "reverse") {
    List items = Iterate(input);
    std::reverse(items.begin(), items.end());
    if (!input.is_string()) return Value::MakeIterator(std::move(items), "list_reverseiterator");
    std::string s;
    for (const Value& c : items) s += c.AsString();
    return Value::String(s);
  }
  if (name == "sort") {
    const bool reverse = Arg(a, 0, "reverse", Value::Bool(false)).Truthy();
    const bool case_sensitive = Arg(a, 1, "case_sensitive", Value::Bool(false)).Truthy();
    const Value attr = Arg(a, 2, "attribute");
    List items = Iterate(input);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      Value kx = attr.is_undefined() ? x : Attribute(x, PyStr(attr));
      Value ky = attr.is_undefined() ? y : Attribute(y, PyStr(attr));
      if (kx.is_string() && ky.is_string()) return SortKey(kx, case_sensitive) < SortKey(ky, case_sensitive);
      return kx.AsDouble() < ky.AsDouble();
    });
    if (reverse) std::reverse(items.begin(), items.end());
    return Value::MakeList(std::move(items));
  }
  if (name == "dictsort") {
    if (!input.is_dict()) Fail("dictsort expects a mapping");
    List items = CallMethod(input, "items").AsList();
    const bool by_value = PyStr(Arg(a, 1, "by", Value::String("key"))) == "value";
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return SortKey(x.AsList()[by_value ? 1 : 0], false) < SortKey(y.AsList()[by_value ? 1 : 0], false);
    });
    if (Arg(a, 2, "reverse", Value::Bool(false)).Truthy()) std::reverse(items.begin(), items.end());
    return Value::MakeList(std::move(items));
  }
  if (name == "int") {
    if (input.is_number()) return Value::Int(input.AsInt());
    if (input.is_string()) {
      try {
        return Value::Int(static_cast<int64_t>(std::stod(input.AsString())));
      } catch (const std::exception&) {
      }
    }
    return Arg(a, 0, "default", Value::Int(0));
  }
  if (name == "float") {
    if (input.is_number()) return Value::Float(input.AsDouble());
    if (input.is_string()) {
      try {
        return Value::Float(std::stod(input.AsString()));
      } catch (const std::exception&) {
      }
    }
    return Arg(a, 0, "default", Value::Float(0.0));
  }
  if (name == "abs") {
    if (!input.is_number()) Fail("abs expects a number");
    return input.is_float() ? Value::Float(std::fabs(input.AsDouble())) : Value::Int(std::llabs(input.AsInt()));
  }
  if (name == "round") {
    const double p = std::pow(10.0, static_cast<double>(Arg(a, 0, "precision", Value::Int(0)).AsInt()));
    return Value::Float(std::round(input.AsDouble() * p) / p);
  }
  if (name == "sum") {
    const Value attr = Arg(a, 0, "attribute");
    Value total = Arg(a, 1, "start", Value::Int(0));
    for (const Value& item : Iterate(input)) {
      const Value v = attr.is_undefined() ? item : Attribute(item, PyStr(attr));
      total = total.is_float() || v.is_float() ? Value::Float(total.AsDouble() + v.AsDouble()) : Value::Int(total.AsInt() + v.AsInt());
    }
    return total;
  }
  if (name == "min" || name == "max") {
    List items = Iterate(input);
    if (items.empty()) return Value::Undefined(name);
    Value best = items[0];
    for (const Value& v : items) {
      const bool less = v.is_string() ? v.AsString() < best.AsString() : v.AsDouble() < best.AsDouble();
      const bool more = v.is_string() ? v.AsString() > best.AsString() : v.AsDouble() > best.AsDouble();
      if ((name == "min" && less) || (name == "max" && more)) best = v;
    }
    return best;
  }
  return StringFilter(name, input, a);
}

bool ApplyTest(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
  (void)in;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "true") return v.is_bool() && v.AsBool();
  if (name == "false") return v.is_bool() && !v.AsBool();
  if (name == "boolean") return v.is_bool();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_int() || v.is_float() || v.is_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_callable();
  const Value other = Arg(a, 0, "other");
  if (name == "equalto" || name == "eq" || name == "==") return v.Equals(other);
  if (name == "ne" || name == "!=") return !v.Equals(other);
  if (name == "sameas") return v.SameAs(other);
  if (name == "lt" || name == "<" || name == "gt" || name == ">" || name == "le" || name == "<=" || name == "ge" ||
      name == ">=") {
    if (!v.is_number() || !other.is_number()) {
      if (!(v.is_string() && other.is_string())) Fail(fmt::format("test '{}' needs comparable values", name));
      const int c = v.AsString().compare(other.AsString());
      if (name == "lt" || name == "<") return c < 0;
      if (name == "gt" || name == ">") return c > 0;
      if (name == "le" || name == "<=") return c <= 0;
      return c >= 0;
    }
    const double x = v.AsDouble(), y = other.AsDouble();
    if (name == "lt" || name == "<") return x < y;
    if (name == "gt" || name == ">") return x > y;
    if (name == "le" || name == "<=") return x <= y;
    return x >= y;
  }
  if (name == "in") {
    if (other.is_string()) return v.is_string() && other.AsString().find(v.AsString()) != std::string::npos;
    for (const Value& x : Iterate(other)) {
      if (x.Equals(v)) return true;
    }
    return false;
  }
  if (name == "odd" || name == "even") {
    if (!v.is_int()) Fail(fmt::format("test '{}' needs an integer", name));
    return (v.AsInt() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    if (other.AsInt() == 0) Fail("divisibleby 0");
    return v.AsInt() % other.AsInt() == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    CallArgs none;
    return GetMethod(v, name).Call(none).AsString() == v.AsString();
  }
  Fail(fmt::format("No test named '{}'", name));
}

void AddGlobalFunctions(Dict* g) {
  g->Set("range", Value::Callable("range", [](CallArgs& a) {
    int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) {
      stop = a.positional[0].AsInt();
    } else if (a.positional.size() >= 2) {
      start = a.positional[0].AsInt();
      stop = a.positional[1].AsInt();
      if (a.positional.size() >= 3) step = a.positional[2].AsInt();
    }
    if (step == 0) Fail("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= 1'000'000) Fail("range() too large");
      out.push_back(Value::Int(i));
    }
    return Value::MakeList(std::move(out));
  }));
  auto make_dict = [](bool ns) {
    return [ns](CallArgs& a) {
      Value d = ns ? Value::Namespace() : Value::MakeDict();
      for (const Value& p : a.positional) {
        if (p.is_dict()) {
          for (const auto& [k, v] : p.AsDict().items) d.AsDict().Set(k, v);
        }
      }
      for (const auto& [k, v] : a.keyword) d.AsDict().Set(k, v);
      return d;
    };
  };
  g->Set("namespace", Value::Callable("namespace", make_dict(true)));
  g->Set("dict", Value::Callable("dict", make_dict(false)));
  g->Set("raise_exception", Value::Callable("raise_exception", [](CallArgs& a) -> Value {
    throw TemplateRaised(a.positional.empty() ? "template raised an exception" : PyStr(a.positional[0]));
  }));
}

}  // namespace tf::jinja
