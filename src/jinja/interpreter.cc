#include "jinja/interpreter.h"

#include <cmath>

#include <fmt/format.h>

#include "base/utf8.h"
#include "jinja/builtins.h"
#include "jinja/error.h"
#include "jinja/py_operators.h"
#include "jinja/value_format.h"

namespace tf::jinja {
namespace {

[[noreturn]] void Fail(int line, const std::string& what) {
  throw JinjaError(line > 0 ? fmt::format("line {}: {}", line, what) : what);
}

std::string UndefinedMessage(const Value& v) {
  return v.undefined_name().empty() ? "value is undefined" : fmt::format("'{}' is undefined", v.undefined_name());
}

// The Python operators with the tag's line on their errors.
template <typename Fn>
auto AtLine(int line, Fn fn) {
  try {
    return fn();
  } catch (const TemplateRaised&) {
    throw;
  } catch (const JinjaError& e) {
    Fail(line, e.what());
  }
}

Value Arith(const std::string& op, const Value& a, const Value& b, int line) {
  return AtLine(line, [&] { return PyArith(op, a, b); });
}
int Compare(const Value& a, const Value& b, int line) {
  return AtLine(line, [&] { return PyCompare(a, b); });
}
bool Contains(const Value& container, const Value& item, int line) {
  return AtLine(line, [&] { return PyContains(container, item); });
}

}  // namespace

Interpreter::Interpreter(const Body& program, Value globals, RenderLimits limits)
    : program_(program), globals_(std::move(globals)), limits_(limits) {}

std::string Interpreter::Render() {
  out_.clear();
  Exec(program_);
  return std::move(out_);
}

void Interpreter::CountIteration() {
  if (++iterations_ > limits_.max_loop_iterations) {
    Fail(0, fmt::format("template exceeded {} loop iterations", limits_.max_loop_iterations));
  }
}

void Interpreter::Emit(const std::string& text) {
  sink_->append(text);
  if (sink_->size() > limits_.max_output_bytes) Fail(0, fmt::format("template output exceeds {} bytes", limits_.max_output_bytes));
}

std::string Interpreter::Capture(const Body& body) {
  std::string captured;
  std::string* saved = sink_;
  sink_ = &captured;
  try {
    Exec(body);
  } catch (...) {
    sink_ = saved;
    throw;
  }
  sink_ = saved;
  return captured;
}

Value Interpreter::Lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    auto f = it->find(name);
    if (f != it->end()) return f->second;
  }
  auto t = top_.find(name);
  if (t != top_.end()) return t->second;
  if (const Value* g = globals_.AsDict().Find(name)) return *g;
  return Value::Undefined(name);
}

void Interpreter::Assign(const std::string& name, Value value) {
  if (frames_.empty()) {
    top_[name] = std::move(value);
  } else {
    frames_.back()[name] = std::move(value);
  }
}

Interpreter::Flow Interpreter::Exec(const Body& body) {
  for (const StmtPtr& st : body) {
    const Flow f = ExecStmt(*st);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::ExecStmt(const Stmt& st) {
  switch (st.kind) {
    case Stmt::Kind::kText: Emit(st.text); return Flow::kNormal;
    case Stmt::Kind::kOutput: {
      const Value v = Eval(*st.expr);
      Emit(PyStr(v));
      return Flow::kNormal;
    }
    case Stmt::Kind::kIf: return ExecIf(st);
    case Stmt::Kind::kFor: return ExecFor(st);
    case Stmt::Kind::kSet: ExecSet(st); return Flow::kNormal;
    case Stmt::Kind::kSetBlock: Assign(st.text, Value::String(Capture(st.body))); return Flow::kNormal;
    case Stmt::Kind::kMacro: ExecMacro(st); return Flow::kNormal;
    case Stmt::Kind::kCallBlock: ExecCallBlock(st); return Flow::kNormal;
    case Stmt::Kind::kFilterBlock: {
      CallArgs none;
      Emit(PyStr(ApplyFilter(*this, st.text, Value::String(Capture(st.body)), none)));
      return Flow::kNormal;
    }
    case Stmt::Kind::kBreak: return Flow::kBreak;
    case Stmt::Kind::kContinue: return Flow::kContinue;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::ExecIf(const Stmt& st) {
  for (size_t i = 0; i < st.conditions.size(); ++i) {
    if (Eval(*st.conditions[i]).Truthy()) return Exec(st.bodies[i]);
  }
  return Exec(st.else_body);
}

Interpreter::Flow Interpreter::ExecFor(const Stmt& st) {
  const Value iterable = Eval(*st.expr);
  if (!iterable.is_list() && !iterable.is_dict() && !iterable.is_string() && !iterable.is_undefined() &&
      !iterable.is_none()) {
    Fail(st.line, fmt::format("'{}' object is not iterable", KindName(iterable.kind())));
  }
  if (iterable.is_none()) Fail(st.line, "'NoneType' object is not iterable");
  List items = Iterate(iterable);
  frames_.emplace_back();
  // The loop filter runs before the loop variable exists, per item.
  if (st.condition) {
    List kept;
    for (const Value& item : items) {
      if (st.targets.size() == 1) {
        frames_.back()[st.targets[0]] = item;
      } else if (item.is_list()) {
        for (size_t k = 0; k < st.targets.size() && k < item.AsList().size(); ++k) frames_.back()[st.targets[k]] = item.AsList()[k];
      }
      if (Eval(*st.condition).Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  Flow result = Flow::kNormal;
  for (int64_t i = 0; i < n; ++i) {
    CountIteration();
    const Value& item = items[i];
    if (st.targets.size() == 1) {
      frames_.back()[st.targets[0]] = item;
    } else {
      if (!item.is_list() || item.AsList().size() != st.targets.size()) {
        frames_.pop_back();
        Fail(st.line, fmt::format("cannot unpack into {} names", st.targets.size()));
      }
      for (size_t k = 0; k < st.targets.size(); ++k) frames_.back()[st.targets[k]] = item.AsList()[k];
    }
    Value loop = Value::MakeDict();
    Dict& d = loop.AsDict();
    d.Set("index", Value::Int(i + 1));
    d.Set("index0", Value::Int(i));
    d.Set("revindex", Value::Int(n - i));
    d.Set("revindex0", Value::Int(n - i - 1));
    d.Set("first", Value::Bool(i == 0));
    d.Set("last", Value::Bool(i == n - 1));
    d.Set("length", Value::Int(n));
    d.Set("depth", Value::Int(1));
    d.Set("depth0", Value::Int(0));
    d.Set("previtem", i > 0 ? items[i - 1] : Value::Undefined("loop.previtem"));
    d.Set("nextitem", i + 1 < n ? items[i + 1] : Value::Undefined("loop.nextitem"));
    d.Set("cycle", Value::Callable("loop.cycle", [i](CallArgs& a) {
      if (a.positional.empty()) throw JinjaError("loop.cycle needs at least one argument");
      return a.positional[i % a.positional.size()];
    }));
    frames_.back()["loop"] = loop;
    Flow f;
    try {
      f = Exec(st.body);
    } catch (...) {
      frames_.pop_back();
      throw;
    }
    if (f == Flow::kBreak) break;
  }
  frames_.pop_back();
  if (n == 0) result = Exec(st.else_body);
  return result;
}

void Interpreter::ExecSet(const Stmt& st) {
  Value v = Eval(*st.expr);
  if (st.target_object) {
    Value obj = Eval(*st.target_object);
    if (!obj.is_namespace()) {
      Fail(st.line, fmt::format("cannot assign attribute on non-namespace object '{}'", st.target_object->name));
    }
    obj.AsDict().Set(st.targets[0], std::move(v));
    return;
  }
  if (st.targets.size() == 1) {
    Assign(st.targets[0], std::move(v));
    return;
  }
  if (!v.is_list() || v.AsList().size() != st.targets.size()) {
    Fail(st.line, fmt::format("cannot unpack into {} names", st.targets.size()));
  }
  for (size_t k = 0; k < st.targets.size(); ++k) Assign(st.targets[k], v.AsList()[k]);
}

Value Interpreter::MakeMacro(const Stmt& st, std::vector<Frame> closure) {
  const Stmt* macro = &st;
  return Value::Callable(st.text, [this, macro, closure = std::move(closure)](CallArgs& args) {
    if (++depth_ > limits_.max_call_depth) {
      --depth_;
      Fail(macro->line, fmt::format("macro calls nested deeper than {}", limits_.max_call_depth));
    }
    Frame locals;
    size_t next = 0;
    for (const MacroParam& p : macro->params) {
      Value v;
      bool set = false;
      for (auto& [k, kv] : args.keyword) {
        if (k == p.name) {
          v = kv;
          set = true;
        }
      }
      if (!set && next < args.positional.size()) {
        v = args.positional[next++];
        set = true;
      }
      if (!set) v = p.default_value ? Eval(*p.default_value) : Value::Undefined(p.name);
      locals[p.name] = v;
    }
    for (auto& [k, kv] : args.keyword) {
      if (k == "caller") locals["caller"] = kv;
    }
    std::vector<Frame> saved = std::move(frames_);
    frames_ = closure;
    frames_.push_back(std::move(locals));
    std::string text;
    try {
      text = Capture(macro->body);
    } catch (...) {
      frames_ = std::move(saved);
      --depth_;
      throw;
    }
    frames_ = std::move(saved);
    --depth_;
    return Value::String(std::move(text));
  });
}

void Interpreter::ExecMacro(const Stmt& st) { Assign(st.text, MakeMacro(st, frames_)); }

void Interpreter::ExecCallBlock(const Stmt& st) {
  // `caller` renders the block's body where the call block stands.
  const Value caller = MakeMacro(st, frames_);
  if (st.expr->kind != Expr::Kind::kCall) Fail(st.line, "call block needs a macro call");
  const Value callee = Eval(*st.expr->a);
  if (!callee.is_callable()) Fail(st.line, "call block target is not callable");
  CallArgs args = EvalArgs(st.expr->args);
  args.keyword.emplace_back("caller", caller);
  Emit(PyStr(callee.Call(args)));
}

CallArgs Interpreter::EvalArgs(const Arguments& a) {
  CallArgs out;
  for (const ExprPtr& e : a.positional) out.positional.push_back(Eval(*e));
  for (const auto& [k, e] : a.keyword) out.keyword.emplace_back(k, Eval(*e));
  return out;
}

Value Interpreter::EvalGetAttr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined()) Fail(line, UndefinedMessage(obj));
  if (obj.is_dict()) {
    if (!obj.is_namespace()) {
      Value m = GetMethod(obj, name);
      if (!m.is_undefined()) return m;
    }
    if (const Value* v = obj.AsDict().Find(name)) return *v;
    return Value::Undefined(name);
  }
  if (obj.is_string() || obj.is_list()) {
    Value m = GetMethod(obj, name);
    if (!m.is_undefined()) return m;
  }
  return Value::Undefined(name);
}

Value Interpreter::EvalGetItem(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) Fail(line, UndefinedMessage(obj));
  if (obj.is_dict()) {
    if (const Value* v = obj.AsDict().Find(key)) return *v;
    if (key.is_string()) return EvalGetAttr(obj, key.AsString(), line);
    return Value::Undefined(PyStr(key));
  }
  if (obj.is_iterator()) Fail(line, fmt::format("'{}' object is not subscriptable", obj.iterator_type()));
  if ((obj.is_list() || obj.is_string()) && key.is_number()) {
    if (obj.is_list()) {
      const List& l = obj.AsList();
      int64_t i = key.AsInt();
      if (i < 0) i += static_cast<int64_t>(l.size());
      if (i < 0 || i >= static_cast<int64_t>(l.size())) return Value::Undefined(fmt::format("[{}]", PyStr(key)));
      return l[i];
    }
    List chars = Iterate(obj);
    int64_t i = key.AsInt();
    if (i < 0) i += static_cast<int64_t>(chars.size());
    if (i < 0 || i >= static_cast<int64_t>(chars.size())) return Value::Undefined(fmt::format("[{}]", PyStr(key)));
    return chars[i];
  }
  if (key.is_string()) return EvalGetAttr(obj, key.AsString(), line);
  return Value::Undefined(fmt::format("[{}]", PyStr(key)));
}

Value Interpreter::EvalSlice(const Expr& e) {
  const Value obj = Eval(*e.a);
  Value parts[3];
  for (int k = 0; k < 3; ++k) parts[k] = e.items[k] ? Eval(*e.items[k]) : Value::None();
  if (obj.is_undefined()) Fail(e.line, UndefinedMessage(obj));
  if ((!obj.is_list() && !obj.is_string()) || obj.is_iterator()) {
    Fail(e.line, fmt::format("'{}' object is not subscriptable", obj.is_iterator() ? obj.iterator_type() : KindName(obj.kind())));
  }
  const List items = obj.is_list() ? obj.AsList() : Iterate(obj);
  List out;
  const std::vector<int64_t> indices =
      AtLine(e.line, [&] { return PySliceIndices(static_cast<int64_t>(items.size()), parts[0], parts[1], parts[2]); });
  for (int64_t i : indices) out.push_back(items[i]);
  if (obj.is_list()) return Value::MakeList(std::move(out));
  std::string s;
  for (const Value& c : out) s += c.AsString();
  return Value::String(std::move(s));
}

// Keys keep their type ({1024: 256} has an int key), as in Python.
Value Interpreter::EvalDict(const Expr& e) {
  Value d = Value::MakeDict();
  for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
    const Value key = Eval(*e.items[i]);
    Value value = Eval(*e.items[i + 1]);
    try {
      d.AsDict().Set(key, std::move(value));
    } catch (const JinjaError& err) {
      Fail(e.line, err.what());
    }
  }
  return d;
}

Value Interpreter::EvalBinary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and") {
    Value a = Eval(*e.a);
    return a.Truthy() ? Eval(*e.b) : a;
  }
  if (op == "or") {
    Value a = Eval(*e.a);
    return a.Truthy() ? a : Eval(*e.b);
  }
  const Value a = Eval(*e.a), b = Eval(*e.b);
  if (op == "==") return Value::Bool(a.Equals(b));
  if (op == "!=") return Value::Bool(!a.Equals(b));
  if (op == "<") return Value::Bool(Compare(a, b, e.line) < 0);
  if (op == ">") return Value::Bool(Compare(a, b, e.line) > 0);
  if (op == "<=") return Value::Bool(Compare(a, b, e.line) <= 0);
  if (op == ">=") return Value::Bool(Compare(a, b, e.line) >= 0);
  if (op == "in") return Value::Bool(Contains(b, a, e.line));
  if (op == "not in") return Value::Bool(!Contains(b, a, e.line));
  if (op == "~") return Value::String(PyStr(a) + PyStr(b));
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::String(a.AsString() + b.AsString());
    if (a.is_list() && b.is_list() && !a.is_iterator() && !b.is_iterator()) {
      List l = a.AsList();
      l.insert(l.end(), b.AsList().begin(), b.AsList().end());
      return Value::MakeList(std::move(l));
    }
    if (a.is_undefined() || b.is_undefined()) Fail(e.line, UndefinedMessage(a.is_undefined() ? a : b));
  }
  if (op == "*" && ((a.is_string() && b.is_int()) || (a.is_int() && b.is_string()))) {
    const std::string& s = a.is_string() ? a.AsString() : b.AsString();
    const int64_t n = a.is_int() ? a.AsInt() : b.AsInt();
    if (n > 0 && !s.empty() && static_cast<size_t>(n) > limits_.max_output_bytes / s.size()) {
      Fail(e.line, "string repetition too large");
    }
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::String(std::move(out));
  }
  if (op == "%" && a.is_string()) {
    CallArgs args;
    if (b.is_list()) args.positional = b.AsList();
    else args.positional.push_back(b);
    return ApplyFilter(*this, "format", a, args);
  }
  return Arith(op, a, b, e.line);
}

Value Interpreter::Eval(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: return e.value;
    case Expr::Kind::kName: return Lookup(e.name);
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      List items;
      for (const ExprPtr& x : e.items) items.push_back(Eval(*x));
      return e.kind == Expr::Kind::kTuple ? Value::MakeTuple(std::move(items)) : Value::MakeList(std::move(items));
    }
    case Expr::Kind::kDict: return EvalDict(e);
    case Expr::Kind::kGetAttr: return EvalGetAttr(Eval(*e.a), e.name, e.line);
    case Expr::Kind::kGetItem: {
      const Value obj = Eval(*e.a);
      return EvalGetItem(obj, Eval(*e.b), e.line);
    }
    case Expr::Kind::kSlice: return EvalSlice(e);
    case Expr::Kind::kCall: {
      const Value callee = Eval(*e.a);
      if (callee.is_undefined()) Fail(e.line, UndefinedMessage(callee));
      if (!callee.is_callable()) Fail(e.line, fmt::format("'{}' object is not callable", KindName(callee.kind())));
      CallArgs args = EvalArgs(e.args);
      try {
        return callee.Call(args);
      } catch (const TemplateRaised&) {
        throw;
      } catch (const JinjaError& err) {
        const std::string what = err.what();
        if (what.rfind("line ", 0) == 0) throw;
        Fail(e.line, what);
      }
    }
    case Expr::Kind::kFilter: {
      const Value input = Eval(*e.a);
      CallArgs args = EvalArgs(e.args);
      try {
        return ApplyFilter(*this, e.name, input, args);
      } catch (const TemplateRaised&) {
        throw;
      } catch (const JinjaError& err) {
        const std::string what = err.what();
        if (what.rfind("line ", 0) == 0) throw;
        Fail(e.line, what);
      }
    }
    case Expr::Kind::kTest: {
      const Value input = Eval(*e.a);
      CallArgs args = EvalArgs(e.args);
      const bool r = ApplyTest(*this, e.name, input, args);
      return Value::Bool(e.negated ? !r : r);
    }
    case Expr::Kind::kUnary: {
      const Value v = Eval(*e.a);
      if (e.name == "not") return Value::Bool(!v.Truthy());
      if (!v.is_number()) Fail(e.line, fmt::format("bad operand type for unary {}: '{}'", e.name, KindName(v.kind())));
      if (e.name == "-") return v.is_float() ? Value::Float(-v.AsDouble()) : Arith("-", Value::Int(0), v, e.line);
      return v.is_bool() ? Value::Int(v.AsInt()) : v;
    }
    case Expr::Kind::kBinary: return EvalBinary(e);
    case Expr::Kind::kConditional: {
      if (Eval(*e.a).Truthy()) return Eval(*e.items[0]);
      return e.items[1] ? Eval(*e.items[1]) : Value::Undefined();
    }
  }
  return Value::Undefined();
}

}  // namespace tf::jinja
