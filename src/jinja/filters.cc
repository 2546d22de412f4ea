// Jinja's filters, with the semantics of Jinja2 3.1 as the Hugging Face
// chat-template renderer configures it, looked up in one table. What each
// does with none and undefined follows Jinja2 filter by filter (checked in
// tests/jinja/jinja2_cases.json): select/reject/selectattr/rejectattr/map
// yield nothing for a falsy input (`if value:` in Jinja2), most others
// iterate it (undefined is an empty iterable; none raises), and the string
// filters work on str(value).
#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "jinja/builtins.h"
#include "jinja/error.h"
#include "jinja/py_operators.h"
#include "jinja/interpreter.h"
#include "jinja/value_format.h"

namespace tf::jinja {
namespace {

using FilterFn = Value (*)(Interpreter& in, const Value& input, CallArgs& a);

[[noreturn]] void Fail(const std::string& what) { throw JinjaError(what); }

Value CallMethod(const Value& obj, const char* name, std::vector<Value> args = {}) {
  Value m = GetMethod(obj, name);
  CallArgs a;
  a.positional = std::move(args);
  return m.Call(a);
}

// Jinja's ignore_case: strings lowered, everything else as it is.
Value IgnoreCase(const Value& v) { return v.is_string() ? CallMethod(v, "lower") : v; }

// The key a sort/unique/min/max filter compares: the item or its
// attribute, lowered when case does not matter.
Value KeyOf(const Value& item, const Value& attribute, bool case_sensitive) {
  const Value key = attribute.is_undefined() || attribute.is_none() ? item : GetAttributePath(item, PyStr(attribute));
  return case_sensitive ? key : IgnoreCase(key);
}

// Python's sorted(items, key=..., reverse=...): stable both ways.
void SortByKeys(List* items, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    return reverse ? PyCompare(keys[y], keys[x]) < 0 : PyCompare(keys[x], keys[y]) < 0;
  });
  List sorted;
  for (size_t i : order) sorted.push_back((*items)[i]);
  *items = std::move(sorted);
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

// Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=None,
// separators=None, sort_keys=False), arguments in that order.
Value ToJsonFilter(Interpreter&, const Value& input, CallArgs& a) {
  JsonStyle style;
  style.ensure_ascii = Arg(a, 0, "ensure_ascii", Value::Bool(false)).Truthy();
  const Value indent = Arg(a, 1, "indent", Value::None());
  if (!indent.is_none() && !indent.is_undefined()) style.indent = static_cast<int>(indent.AsInt());
  const Value seps = Arg(a, 2, "separators", Value::None());
  if (seps.is_list() && seps.AsList().size() == 2) {
    style.has_separators = true;
    style.item_separator = PyStr(seps.AsList()[0]);
    style.key_separator = PyStr(seps.AsList()[1]);
  }
  style.sort_keys = Arg(a, 3, "sort_keys", Value::Bool(false)).Truthy();
  return Value::String(ToJson(input, style));
}

bool PassesTest(Interpreter& in, const Value& v, const Value& test_name, const List& extra) {
  CallArgs a;
  a.positional = extra;
  return ApplyTest(in, PyStr(test_name), v, a);
}

// select / reject / selectattr / rejectattr: nothing for a falsy input.
Value Select(Interpreter& in, const Value& seq, CallArgs& a, bool by_attribute, bool keep_if) {
  List out;
  if (!seq.Truthy()) return Value::MakeIterator(std::move(out));
  const size_t first_test_arg = by_attribute ? 1 : 0;
  const std::string attr = by_attribute ? PyStr(Arg(a, 0, "attribute")) : "";
  const bool has_test = a.positional.size() > first_test_arg;
  List extra;
  for (size_t i = first_test_arg + 1; i < a.positional.size(); ++i) extra.push_back(a.positional[i]);
  for (const Value& item : Iterate(seq)) {
    const Value subject = by_attribute ? GetAttributePath(item, attr) : item;
    const bool r = has_test ? PassesTest(in, subject, a.positional[first_test_arg], extra) : subject.Truthy();
    if (r == keep_if) out.push_back(item);
  }
  return Value::MakeIterator(std::move(out));
}

Value SelectFilter(Interpreter& in, const Value& v, CallArgs& a) { return Select(in, v, a, false, true); }
Value RejectFilter(Interpreter& in, const Value& v, CallArgs& a) { return Select(in, v, a, false, false); }
Value SelectAttrFilter(Interpreter& in, const Value& v, CallArgs& a) { return Select(in, v, a, true, true); }
Value RejectAttrFilter(Interpreter& in, const Value& v, CallArgs& a) { return Select(in, v, a, true, false); }

// map('filter', ...) or map(attribute=..., default=...): nothing for a falsy input.
Value MapFilter(Interpreter& in, const Value& seq, CallArgs& a) {
  List out;
  if (!seq.Truthy()) return Value::MakeIterator(std::move(out));
  const Value attr = Arg(a, SIZE_MAX, "attribute");
  if (a.positional.empty() && !attr.is_undefined()) {
    const Value fallback = Arg(a, SIZE_MAX, "default");
    for (const Value& item : Iterate(seq)) {
      Value v = GetAttributePath(item, PyStr(attr));
      out.push_back(v.is_undefined() && !fallback.is_undefined() && !fallback.is_none() ? fallback : v);
    }
    return Value::MakeIterator(std::move(out));
  }
  if (a.positional.empty()) Fail("map needs a filter name or attribute=");
  const std::string filter = PyStr(a.positional[0]);
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : Iterate(seq)) {
    CallArgs copy = rest;
    out.push_back(ApplyFilter(in, filter, item, copy));
  }
  return Value::MakeIterator(std::move(out));
}

Value LengthFilter(Interpreter&, const Value& v, CallArgs&) { return Value::Int(PyLen(v)); }
Value StringFilter(Interpreter&, const Value& v, CallArgs&) { return Value::String(PyStr(v)); }
Value SafeFilter(Interpreter&, const Value& v, CallArgs&) { return v; }
Value ListFilter(Interpreter&, const Value& v, CallArgs&) { return Value::MakeList(Iterate(v)); }

// Only undefined takes the default, unless boolean=true (then any falsy value).
Value DefaultFilter(Interpreter&, const Value& v, CallArgs& a) {
  const bool boolean = Arg(a, 1, "boolean", Value::Bool(false)).Truthy();
  if (v.is_undefined() || (boolean && !v.Truthy())) return Arg(a, 0, "default_value", Value::String(""));
  return v;
}

// Undefined: no pairs; anything but a mapping raises.
Value ItemsFilter(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::MakeIterator({});
  if (!v.is_dict()) Fail("Can only get item pairs from a mapping.");
  return Value::MakeIterator(CallMethod(v, "items").AsList());
}

Value FirstFilter(Interpreter&, const Value& v, CallArgs&) {
  List items = Iterate(v);
  return items.empty() ? Value::Undefined("first") : items.front();
}

Value LastFilter(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_iterator()) Fail(fmt::format("'{}' object is not reversible", v.iterator_type()));
  if (v.is_none()) Fail("'NoneType' object is not reversible");
  List items = Iterate(v);
  return items.empty() ? Value::Undefined("last") : items.back();
}

Value JoinFilter(Interpreter&, const Value& v, CallArgs& a) {
  const std::string sep = PyStr(Arg(a, 0, "d", Value::String("")));
  const Value attr = Arg(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : Iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += PyStr(attr.is_undefined() || attr.is_none() ? item : GetAttributePath(item, PyStr(attr)));
  }
  return Value::String(out);
}

// Items whose key (case-folded unless case_sensitive) was not seen before.
Value UniqueFilter(Interpreter&, const Value& v, CallArgs& a) {
  const bool case_sensitive = Arg(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  const Value attr = Arg(a, 1, "attribute");
  List out;
  Dict seen;
  for (const Value& item : Iterate(v)) {
    const Value key = KeyOf(item, attr, case_sensitive);
    if (seen.Find(key) != nullptr) continue;
    seen.Set(key, Value::None());
    out.push_back(item);
  }
  return Value::MakeIterator(std::move(out));
}

Value ReverseFilter(Interpreter&, const Value& v, CallArgs&) {
  if (v.is_none() || v.is_number() || v.is_callable()) Fail("argument must be iterable");
  List items = Iterate(v);
  std::reverse(items.begin(), items.end());
  if (!v.is_string()) return Value::MakeIterator(std::move(items), "list_reverseiterator");
  std::string s;
  for (const Value& c : items) s += c.AsString();
  return Value::String(s);
}

Value SortFilter(Interpreter&, const Value& v, CallArgs& a) {
  const bool reverse = Arg(a, 0, "reverse", Value::Bool(false)).Truthy();
  const bool case_sensitive = Arg(a, 1, "case_sensitive", Value::Bool(false)).Truthy();
  const Value attr = Arg(a, 2, "attribute");
  List items = Iterate(v);
  std::vector<Value> keys;
  for (const Value& item : items) keys.push_back(KeyOf(item, attr, case_sensitive));
  SortByKeys(&items, keys, reverse);
  return Value::MakeList(std::move(items));
}

// (key, value) tuples sorted by key or value, keys of any comparable type.
Value DictSortFilter(Interpreter&, const Value& v, CallArgs& a) {
  if (!v.is_dict()) Fail(v.is_undefined() ? "dictsort: value is undefined" : "dictsort expects a mapping");
  const bool case_sensitive = Arg(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  const std::string by = PyStr(Arg(a, 1, "by", Value::String("key")));
  if (by != "key" && by != "value") Fail("You can only sort by either \"key\" or \"value\"");
  const bool reverse = Arg(a, 2, "reverse", Value::Bool(false)).Truthy();
  List items = CallMethod(v, "items").AsList();
  std::vector<Value> keys;
  for (const Value& item : items) {
    const Value& k = item.AsList()[by == "value" ? 1 : 0];
    keys.push_back(case_sensitive ? k : IgnoreCase(k));
  }
  SortByKeys(&items, keys, reverse);
  return Value::MakeList(std::move(items));
}

// int()/float() of numbers and numeric strings; none and other values give
// the default; undefined raises (its __int__ does).
Value IntFilter(Interpreter&, const Value& v, CallArgs& a) {
  if (v.is_undefined()) Fail(fmt::format("'{}' is undefined", v.undefined_name()));
  if (v.is_number()) return Value::Int(v.AsInt());
  if (v.is_string()) {
    try {
      return Value::Int(static_cast<int64_t>(std::stod(v.AsString())));
    } catch (const std::exception&) {
    }
  }
  return Arg(a, 0, "default", Value::Int(0));
}

Value FloatFilter(Interpreter&, const Value& v, CallArgs& a) {
  if (v.is_undefined()) Fail(fmt::format("'{}' is undefined", v.undefined_name()));
  if (v.is_number()) return Value::Float(v.AsDouble());
  if (v.is_string()) {
    try {
      return Value::Float(std::stod(v.AsString()));
    } catch (const std::exception&) {
    }
  }
  return Arg(a, 0, "default", Value::Float(0.0));
}

Value AbsFilter(Interpreter&, const Value& v, CallArgs&) {
  if (!v.is_number()) Fail(fmt::format("bad operand type for abs(): '{}'", TypeName(v)));
  return v.is_float() ? Value::Float(std::fabs(v.AsDouble())) : Value::Int(std::llabs(v.AsInt()));
}

Value RoundFilter(Interpreter&, const Value& v, CallArgs& a) {
  if (!v.is_number()) Fail(fmt::format("type {} doesn't define __round__ method", TypeName(v)));
  const double p = std::pow(10.0, static_cast<double>(Arg(a, 0, "precision", Value::Int(0)).AsInt()));
  return Value::Float(std::round(v.AsDouble() * p) / p);
}

Value SumFilter(Interpreter&, const Value& v, CallArgs& a) {
  const Value attr = Arg(a, 0, "attribute");
  Value total = Arg(a, 1, "start", Value::Int(0));
  for (const Value& item : Iterate(v)) {
    const Value x = attr.is_undefined() || attr.is_none() ? item : GetAttributePath(item, PyStr(attr));
    if (!x.is_number() || !total.is_number()) {
      Fail(fmt::format("unsupported operand type(s) for +: '{}' and '{}'", TypeName(total), TypeName(x)));
    }
    total = total.is_float() || x.is_float() ? Value::Float(total.AsDouble() + x.AsDouble())
                                             : Value::Int(total.AsInt() + x.AsInt());
  }
  return total;
}

// The first smallest (largest) item by Python ordering.
Value MinMax(const Value& v, CallArgs& a, bool want_max) {
  const bool case_sensitive = Arg(a, 0, "case_sensitive", Value::Bool(false)).Truthy();
  const Value attr = Arg(a, 1, "attribute");
  List items = Iterate(v);
  if (items.empty()) return Value::Undefined(want_max ? "max" : "min");
  size_t best = 0;
  Value best_key = KeyOf(items[0], attr, case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    const Value key = KeyOf(items[i], attr, case_sensitive);
    const int c = PyCompare(key, best_key);
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = key;
    }
  }
  return items[best];
}
Value MinFilter(Interpreter&, const Value& v, CallArgs& a) { return MinMax(v, a, false); }
Value MaxFilter(Interpreter&, const Value& v, CallArgs& a) { return MinMax(v, a, true); }

// indent appends to its input, so anything but a string raises, as in Jinja2.
Value IndentFilter(Interpreter&, const Value& v, CallArgs& a) {
  if (v.is_undefined()) Fail(fmt::format("'{}' is undefined", v.undefined_name()));
  if (!v.is_string()) Fail(fmt::format("unsupported operand type(s) for +=: '{}' and 'str'", TypeName(v)));
  const Value w = Arg(a, 0, "width", Value::Int(4));
  const std::string pad = w.is_string() ? w.AsString() : std::string(static_cast<size_t>(std::max<int64_t>(0, w.AsInt())), ' ');
  const bool first = Arg(a, 1, "first", Value::Bool(false)).Truthy();
  const bool blank = Arg(a, 2, "blank", Value::Bool(false)).Truthy();
  const std::string& s = v.AsString();
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

// The string filters work on str(value).
Value Str(const Value& v) { return Value::String(PyStr(v)); }
Value TrimFilter(Interpreter&, const Value& v, CallArgs& a) {
  return CallMethod(Str(v), "strip", {Arg(a, 0, "chars", Value::None())});
}
Value UpperFilter(Interpreter&, const Value& v, CallArgs&) { return CallMethod(Str(v), "upper"); }
Value LowerFilter(Interpreter&, const Value& v, CallArgs&) { return CallMethod(Str(v), "lower"); }
Value TitleFilter(Interpreter&, const Value& v, CallArgs&) { return CallMethod(Str(v), "title"); }
Value CapitalizeFilter(Interpreter&, const Value& v, CallArgs&) { return CallMethod(Str(v), "capitalize"); }
Value ReplaceFilter(Interpreter&, const Value& v, CallArgs& a) {
  return CallMethod(Str(v), "replace", {Str(Arg(a, 0, "old")), Str(Arg(a, 1, "new")), Arg(a, 2, "count", Value::Int(-1))});
}
Value EscapeFilter(Interpreter&, const Value& v, CallArgs&) { return Value::String(HtmlEscape(PyStr(v))); }
Value WordCountFilter(Interpreter&, const Value& v, CallArgs&) {
  return Value::Int(static_cast<int64_t>(CallMethod(Str(v), "split").AsList().size()));
}
Value FormatFilter(Interpreter&, const Value& v, CallArgs& a) { return Value::String(PercentFormat(PyStr(v), a.positional)); }

const std::unordered_map<std::string_view, FilterFn>& Filters() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", AbsFilter},
      {"capitalize", CapitalizeFilter},
      {"count", LengthFilter},
      {"d", DefaultFilter},
      {"default", DefaultFilter},
      {"dictsort", DictSortFilter},
      {"e", EscapeFilter},
      {"escape", EscapeFilter},
      {"first", FirstFilter},
      {"float", FloatFilter},
      {"format", FormatFilter},
      {"indent", IndentFilter},
      {"int", IntFilter},
      {"items", ItemsFilter},
      {"join", JoinFilter},
      {"last", LastFilter},
      {"length", LengthFilter},
      {"list", ListFilter},
      {"lower", LowerFilter},
      {"map", MapFilter},
      {"max", MaxFilter},
      {"min", MinFilter},
      {"reject", RejectFilter},
      {"rejectattr", RejectAttrFilter},
      {"replace", ReplaceFilter},
      {"reverse", ReverseFilter},
      {"round", RoundFilter},
      {"safe", SafeFilter},
      {"select", SelectFilter},
      {"selectattr", SelectAttrFilter},
      {"sort", SortFilter},
      {"string", StringFilter},
      {"sum", SumFilter},
      {"title", TitleFilter},
      {"tojson", ToJsonFilter},
      {"trim", TrimFilter},
      {"unique", UniqueFilter},
      {"upper", UpperFilter},
      {"wordcount", WordCountFilter},
  };
  return table;
}

}  // namespace

Value ApplyFilter(Interpreter& in, const std::string& name, const Value& input, CallArgs& a) {
  const auto it = Filters().find(name);
  if (it == Filters().end()) Fail(fmt::format("No filter named '{}'", name));
  return it->second(in, input, a);
}

}  // namespace tf::jinja
