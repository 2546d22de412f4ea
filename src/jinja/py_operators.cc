#include "jinja/py_operators.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "jinja/error.h"

namespace tf::jinja {
namespace {

[[noreturn]] void Fail(const std::string& what) { throw JinjaError(what); }

// x op y in 64 bits; Python's ints would grow instead, so overflow raises.
template <typename Op>
int64_t Checked(int64_t x, int64_t y, std::string_view op, Op overflowing) {
  int64_t r = 0;
  if (overflowing(x, y, &r)) Fail(fmt::format("integer overflow in {}", op));
  return r;
}
bool Add(int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); }
bool Sub(int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); }
bool Mul(int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); }

Value FloatArith(std::string_view op, double x, double y) {
  if (op == "+") return Value::Float(x + y);
  if (op == "-") return Value::Float(x - y);
  if (op == "*") return Value::Float(x * y);
  if (op == "**") return Value::Float(std::pow(x, y));
  if (y == 0.0) Fail("float division by zero");
  if (op == "/") return Value::Float(x / y);
  if (op == "//") return Value::Float(std::floor(x / y));
  if (op == "%") return Value::Float(x - std::floor(x / y) * y);
  Fail(fmt::format("unknown operator {}", op));
}

Value IntPower(int64_t x, int64_t y) {
  if (y < 0) return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
  if (x == 0 || x == 1) return Value::Int(y == 0 ? 1 : x);
  if (x == -1) return Value::Int(y % 2 == 0 ? 1 : -1);
  int64_t r = 1;
  for (int64_t i = 0; i < y; ++i) r = Checked(r, x, "**", Mul);  // |x| >= 2: overflows within 64 rounds
  return Value::Int(r);
}

}  // namespace

Value PyArith(std::string_view op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) {
    Fail(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, TypeName(a), TypeName(b)));
  }
  if (a.is_float() || b.is_float() || op == "/") return FloatArith(op, a.AsDouble(), b.AsDouble());
  const int64_t x = a.AsInt(), y = b.AsInt();
  if (op == "+") return Value::Int(Checked(x, y, op, Add));
  if (op == "-") return Value::Int(Checked(x, y, op, Sub));
  if (op == "*") return Value::Int(Checked(x, y, op, Mul));
  if (op == "**") return IntPower(x, y);
  if (y == 0) Fail("integer division or modulo by zero");
  if (x == INT64_MIN && y == -1) Fail(fmt::format("integer overflow in {}", op));
  int64_t q = x / y, r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) {  // Python floors
    --q;
    r += y;
  }
  return Value::Int(op == "//" ? q : r);
}

int PyCompare(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_float() && !b.is_float()) return a.AsInt() < b.AsInt() ? -1 : (a.AsInt() > b.AsInt() ? 1 : 0);
    const double x = a.AsDouble(), y = b.AsDouble();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.AsString().compare(b.AsString());  // UTF-8 bytes order as code points do
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && !a.is_iterator() && !b.is_iterator() && a.is_tuple() == b.is_tuple()) {
    const List &x = a.AsList(), &y = b.AsList();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!x[i].Equals(y[i])) return PyCompare(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  Fail(fmt::format("'<' not supported between instances of '{}' and '{}'", TypeName(a), TypeName(b)));
}

bool PyContains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) Fail("'in <string>' requires string as left operand");
    return container.AsString().find(item.AsString()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.AsList()) {
      if (v.Equals(item)) return true;
    }
    return false;
  }
  if (container.is_dict()) {
    if (!HashKey(item)) Fail(fmt::format("unhashable type: '{}'", TypeName(item)));
    return container.AsDict().Find(item) != nullptr;
  }
  if (container.is_undefined()) return false;
  Fail(fmt::format("argument of type '{}' is not iterable", TypeName(container)));
}

std::vector<int64_t> PySliceIndices(int64_t n, const Value& start, const Value& stop, const Value& step_v) {
  const int64_t step = step_v.is_none() || step_v.is_undefined() ? 1 : step_v.AsInt();
  if (step == 0) Fail("slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t def) {
    if (v.is_none() || v.is_undefined()) return def;
    int64_t i = v.AsInt();
    if (i < 0) i += n;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t lo = clamp(start, step > 0 ? 0 : n - 1);
  const int64_t hi = clamp(stop, step > 0 ? n : -1);
  std::vector<int64_t> idx;
  for (int64_t i = lo; step > 0 ? i < hi : i > hi; i += step) {
    idx.push_back(i);
    if (step < 0 && i < INT64_MIN - step) break;  // i += step would wrap
    if (step > 0 && i > INT64_MAX - step) break;
  }
  return idx;
}

}  // namespace tf::jinja
