// Jinja's tests (`x is defined`, `x is equalto y`, ...) looked up in one
// table, and the global functions every template sees (range, namespace,
// dict, raise_exception), with Jinja2 3.1's semantics.
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

// As many items as a render may loop over.
constexpr size_t kMaxRangeLength = static_cast<size_t>(RenderLimits{}.max_loop_iterations);

using TestFn = bool (*)(const Value& v, CallArgs& a);

[[noreturn]] void Fail(const std::string& what) { throw JinjaError(what); }

Value Other(const CallArgs& a) { return Arg(a, 0, "other"); }

bool IsDefined(const Value& v, CallArgs&) { return !v.is_undefined(); }
bool IsUndefined(const Value& v, CallArgs&) { return v.is_undefined(); }
bool IsNone(const Value& v, CallArgs&) { return v.is_none(); }
bool IsTrue(const Value& v, CallArgs&) { return v.is_bool() && v.AsBool(); }
bool IsFalse(const Value& v, CallArgs&) { return v.is_bool() && !v.AsBool(); }
bool IsBoolean(const Value& v, CallArgs&) { return v.is_bool(); }
bool IsString(const Value& v, CallArgs&) { return v.is_string(); }
bool IsNumber(const Value& v, CallArgs&) { return v.is_number(); }  // bool is a Number in Python
bool IsInteger(const Value& v, CallArgs&) { return v.is_int(); }
bool IsFloat(const Value& v, CallArgs&) { return v.is_float(); }
bool IsMapping(const Value& v, CallArgs&) { return v.is_dict(); }
// Undefined iterates (as nothing) and has __len__/__getitem__ in Jinja2.
bool IsIterable(const Value& v, CallArgs&) { return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined(); }
bool IsSequence(const Value& v, CallArgs&) {
  return (v.is_list() && !v.is_iterator()) || v.is_dict() || v.is_string() || v.is_undefined();
}
// Undefined is callable in Jinja2 (calling it raises).
bool IsCallable(const Value& v, CallArgs&) { return v.is_callable() || v.is_undefined(); }
bool IsEqual(const Value& v, CallArgs& a) { return v.Equals(Other(a)); }
bool IsNotEqual(const Value& v, CallArgs& a) { return !v.Equals(Other(a)); }
bool IsSameAs(const Value& v, CallArgs& a) { return v.SameAs(Other(a)); }
bool IsLess(const Value& v, CallArgs& a) { return PyCompare(v, Other(a)) < 0; }
bool IsGreater(const Value& v, CallArgs& a) { return PyCompare(v, Other(a)) > 0; }
bool IsLessOrEqual(const Value& v, CallArgs& a) { return PyCompare(v, Other(a)) <= 0; }
bool IsGreaterOrEqual(const Value& v, CallArgs& a) { return PyCompare(v, Other(a)) >= 0; }
bool IsIn(const Value& v, CallArgs& a) { return PyContains(Arg(a, 0, "seq"), v); }

bool IsOddOrEven(const Value& v, bool odd) {
  if (!v.is_int() && !v.is_bool()) Fail(fmt::format("test '{}' needs an integer", odd ? "odd" : "even"));
  return (v.AsInt() % 2 != 0) == odd;
}
bool IsOdd(const Value& v, CallArgs&) { return IsOddOrEven(v, true); }
bool IsEven(const Value& v, CallArgs&) { return IsOddOrEven(v, false); }

bool IsDivisibleBy(const Value& v, CallArgs& a) {
  const Value num = Arg(a, 0, "num");
  if (num.AsInt() == 0) Fail("integer division or modulo by zero");
  return v.AsInt() % num.AsInt() == 0;
}

bool HasCase(const Value& v, const char* method) {
  if (!v.is_string()) return false;
  CallArgs none;
  return GetMethod(v, method).Call(none).AsString() == v.AsString();
}
bool IsLower(const Value& v, CallArgs&) { return HasCase(v, "lower"); }
bool IsUpper(const Value& v, CallArgs&) { return HasCase(v, "upper"); }

const std::unordered_map<std::string_view, TestFn>& Tests() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"!=", IsNotEqual},      {"<", IsLess},           {"<=", IsLessOrEqual}, {"==", IsEqual},
      {">", IsGreater},        {">=", IsGreaterOrEqual}, {"boolean", IsBoolean}, {"callable", IsCallable},
      {"defined", IsDefined},  {"divisibleby", IsDivisibleBy}, {"eq", IsEqual}, {"equalto", IsEqual},
      {"even", IsEven},        {"false", IsFalse},      {"float", IsFloat},    {"ge", IsGreaterOrEqual},
      {"gt", IsGreater},       {"in", IsIn},            {"integer", IsInteger}, {"iterable", IsIterable},
      {"le", IsLessOrEqual},   {"lower", IsLower},      {"lt", IsLess},        {"mapping", IsMapping},
      {"ne", IsNotEqual},      {"none", IsNone},        {"number", IsNumber},  {"odd", IsOdd},
      {"sameas", IsSameAs},    {"sequence", IsSequence}, {"string", IsString}, {"true", IsTrue},
      {"undefined", IsUndefined}, {"upper", IsUpper},
  };
  return table;
}

Value Range(CallArgs& a) {
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
    if (out.size() >= kMaxRangeLength) Fail(fmt::format("range() longer than {} items", kMaxRangeLength));
    out.push_back(Value::Int(i));
  }
  return Value::MakeList(std::move(out));
}

// dict(...) / namespace(...): mappings given positionally, then keywords.
NativeFn MakeDictFn(bool is_namespace) {
  return [is_namespace](CallArgs& a) {
    Value d = is_namespace ? Value::Namespace() : Value::MakeDict();
    for (const Value& p : a.positional) {
      if (p.is_dict()) {
        for (const auto& [k, v] : p.AsDict().items) d.AsDict().Set(k, v);
      }
    }
    for (const auto& [k, v] : a.keyword) d.AsDict().Set(k, v);
    return d;
  };
}

}  // namespace

bool ApplyTest(Interpreter&, const std::string& name, const Value& v, CallArgs& a) {
  const auto it = Tests().find(name);
  if (it == Tests().end()) Fail(fmt::format("No test named '{}'", name));
  return it->second(v, a);
}

void AddGlobalFunctions(Dict* g) {
  g->Set("range", Value::Callable("range", Range));
  g->Set("namespace", Value::Callable("namespace", MakeDictFn(true)));
  g->Set("dict", Value::Callable("dict", MakeDictFn(false)));
  g->Set("raise_exception", Value::Callable("raise_exception", [](CallArgs& a) -> Value {
    throw TemplateRaised(a.positional.empty() ? "template raised an exception" : PyStr(a.positional[0]));
  }));
}

}  // namespace tf::jinja
