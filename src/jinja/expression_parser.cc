#include "jinja/expression_parser.h"

#include <set>

#include <fmt/format.h>

#include "jinja/error.h"

namespace tf::jinja {
namespace {
constexpr int kMaxExpressionDepth = 200;
}  // namespace

ExpressionParser::DepthGuard::DepthGuard(ExpressionParser* parser) : p(parser) {
  if (++p->depth_ > kMaxExpressionDepth) p->Fail("expression nested too deeply");
}

void ExpressionParser::ExpectOp(const char* op) {
  if (!IsOp(op)) Fail(fmt::format("expected '{}', found '{}'", op, Peek().text));
  Next();
}

std::string ExpressionParser::ExpectName() {
  if (Peek().kind != Token::Kind::kName) Fail(fmt::format("expected a name, found '{}'", Peek().text));
  return Next().text;
}

void ExpressionParser::ExpectEnd() {
  if (!AtEnd()) Fail(fmt::format("unexpected '{}'", Peek().text));
}

void ExpressionParser::Fail(const std::string& what) const { throw JinjaError(fmt::format("line {}: {}", line_, what)); }

bool ExpressionParser::NextIs(Token::Kind kind, const char* text) const {
  return pos_ + 1 < t_.size() && t_[pos_ + 1].kind == kind && t_[pos_ + 1].text == text;
}

ExprPtr ExpressionParser::Make(Expr::Kind kind) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line_;
  return e;
}

ExprPtr ExpressionParser::Binary(std::string op, ExprPtr a, ExprPtr b) {
  auto e = Make(Expr::Kind::kBinary);
  e->name = std::move(op);
  e->a = std::move(a);
  e->b = std::move(b);
  return e;
}

ExprPtr ExpressionParser::Expression(bool with_conditional) {
  DepthGuard guard(this);
  ExprPtr e = Or();
  if (!with_conditional || !IsName("if")) return e;
  Next();
  auto c = Make(Expr::Kind::kConditional);
  c->a = Or();  // condition
  c->items.push_back(std::move(e));
  if (IsName("else")) {
    Next();
    c->items.push_back(Expression());
  } else {
    c->items.push_back(nullptr);
  }
  return c;
}

ExprPtr ExpressionParser::Tuple(bool with_conditional) {
  ExprPtr first = Expression(with_conditional);
  if (!IsOp(",")) return first;
  auto t = Make(Expr::Kind::kTuple);
  t->items.push_back(std::move(first));
  while (IsOp(",")) {
    Next();
    if (AtEnd() || IsName("if") || IsOp("=")) break;
    t->items.push_back(Expression(with_conditional));
  }
  return t;
}

ExprPtr ExpressionParser::Or() {
  ExprPtr e = And();
  while (IsName("or")) {
    Next();
    e = Binary("or", std::move(e), And());
  }
  return e;
}

ExprPtr ExpressionParser::And() {
  ExprPtr e = Not();
  while (IsName("and")) {
    Next();
    e = Binary("and", std::move(e), Not());
  }
  return e;
}

ExprPtr ExpressionParser::Not() {
  if (!IsName("not")) return Compare();
  DepthGuard guard(this);
  Next();
  auto e = Make(Expr::Kind::kUnary);
  e->name = "not";
  e->a = Not();
  return e;
}

ExprPtr ExpressionParser::Compare() {
  static const std::set<std::string> kComparisons = {"==", "!=", "<", ">", "<=", ">="};
  ExprPtr e = Concat();
  while (true) {
    if (Peek().kind == Token::Kind::kOperator && kComparisons.count(Peek().text) != 0) {
      const std::string op = Next().text;
      e = Binary(op, std::move(e), Concat());
    } else if (IsName("in")) {
      Next();
      e = Binary("in", std::move(e), Concat());
    } else if (IsName("not") && NextIs(Token::Kind::kName, "in")) {
      Next();
      Next();
      e = Binary("not in", std::move(e), Concat());
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::Concat() {
  ExprPtr e = Math1();
  while (IsOp("~")) {
    Next();
    e = Binary("~", std::move(e), Math1());
  }
  return e;
}

ExprPtr ExpressionParser::Math1() {
  ExprPtr e = Math2();
  while (IsOp("+") || IsOp("-")) {
    const std::string op = Next().text;
    e = Binary(op, std::move(e), Math2());
  }
  return e;
}

ExprPtr ExpressionParser::Math2() {
  ExprPtr e = Pow();
  while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
    const std::string op = Next().text;
    e = Binary(op, std::move(e), Pow());
  }
  return e;
}

ExprPtr ExpressionParser::Pow() {
  ExprPtr e = Unary(true);
  while (IsOp("**")) {
    Next();
    e = Binary("**", std::move(e), Unary(true));
  }
  return e;
}

ExprPtr ExpressionParser::Unary(bool with_filter) {
  DepthGuard guard(this);
  ExprPtr e;
  if (IsOp("-") || IsOp("+")) {
    auto u = Make(Expr::Kind::kUnary);
    u->name = Next().text;
    u->a = Unary(false);
    e = std::move(u);
  } else {
    e = Primary();
  }
  e = Postfix(std::move(e));
  if (with_filter) e = FilterExpr(std::move(e));
  return e;
}

ExprPtr ExpressionParser::NameOrConstant(const Token& tok) {
  auto e = Make(Expr::Kind::kLiteral);
  if (tok.text == "true" || tok.text == "True") {
    e->value = Value::Bool(true);
  } else if (tok.text == "false" || tok.text == "False") {
    e->value = Value::Bool(false);
  } else if (tok.text == "none" || tok.text == "None") {
    e->value = Value::None();
  } else {
    e->kind = Expr::Kind::kName;
    e->name = tok.text;
  }
  return e;
}

ExprPtr ExpressionParser::Primary() {
  const Token tok = Peek();
  switch (tok.kind) {
    case Token::Kind::kName:
      Next();
      return NameOrConstant(tok);
    case Token::Kind::kString: {
      std::string s;
      while (Peek().kind == Token::Kind::kString) s += Next().text;  // "a" "b" concatenates
      auto e = Make(Expr::Kind::kLiteral);
      e->value = Value::String(std::move(s));
      return e;
    }
    case Token::Kind::kInt:
    case Token::Kind::kFloat: {
      Next();
      auto e = Make(Expr::Kind::kLiteral);
      e->value = tok.kind == Token::Kind::kInt ? Value::Int(tok.int_value) : Value::Float(tok.float_value);
      return e;
    }
    case Token::Kind::kOperator:
      if (tok.text == "(") return Parenthesized();
      if (tok.text == "[") return ListLiteral();
      if (tok.text == "{") return DictLiteral();
      break;
    case Token::Kind::kEnd:
      break;
  }
  Fail(tok.kind == Token::Kind::kEnd ? "unexpected end of expression" : fmt::format("unexpected '{}'", tok.text));
}

ExprPtr ExpressionParser::Parenthesized() {
  ExpectOp("(");
  if (IsOp(")")) {
    Next();
    return Make(Expr::Kind::kTuple);
  }
  ExprPtr e = Expression();
  if (IsOp(",")) {
    auto t = Make(Expr::Kind::kTuple);
    t->items.push_back(std::move(e));
    while (IsOp(",")) {
      Next();
      if (IsOp(")")) break;
      t->items.push_back(Expression());
    }
    e = std::move(t);
  }
  ExpectOp(")");
  return e;
}

ExprPtr ExpressionParser::ListLiteral() {
  ExpectOp("[");
  auto e = Make(Expr::Kind::kList);
  while (!IsOp("]")) {
    e->items.push_back(Expression());
    if (!IsOp(",")) break;
    Next();
  }
  ExpectOp("]");
  return e;
}

// items: key, value, key, value, ... (keys of any type, as in Python).
ExprPtr ExpressionParser::DictLiteral() {
  ExpectOp("{");
  auto e = Make(Expr::Kind::kDict);
  while (!IsOp("}")) {
    e->items.push_back(Expression());
    ExpectOp(":");
    e->items.push_back(Expression());
    if (!IsOp(",")) break;
    Next();
  }
  ExpectOp("}");
  return e;
}

ExprPtr ExpressionParser::Postfix(ExprPtr e) {
  while (true) {
    if (IsOp(".")) {
      Next();
      if (Peek().kind == Token::Kind::kInt) {  // x.0 is x[0]
        auto g = Make(Expr::Kind::kGetItem);
        auto idx = Make(Expr::Kind::kLiteral);
        idx->value = Value::Int(Next().int_value);
        g->a = std::move(e);
        g->b = std::move(idx);
        e = std::move(g);
        continue;
      }
      auto g = Make(Expr::Kind::kGetAttr);
      g->name = ExpectName();
      g->a = std::move(e);
      e = std::move(g);
    } else if (IsOp("[")) {
      e = Subscript(std::move(e));
    } else if (IsOp("(")) {
      auto c = Make(Expr::Kind::kCall);
      c->a = std::move(e);
      c->args = CallArguments();
      e = std::move(c);
    } else {
      return e;
    }
  }
}

ExprPtr ExpressionParser::Subscript(ExprPtr target) {
  ExpectOp("[");
  ExprPtr parts[3];
  int colons = 0;
  if (!IsOp(":")) parts[0] = Expression();
  while (IsOp(":") && colons < 2) {
    Next();
    ++colons;
    if (!IsOp(":") && !IsOp("]")) parts[colons] = Expression();
  }
  ExpectOp("]");
  if (colons == 0) {
    auto g = Make(Expr::Kind::kGetItem);
    g->a = std::move(target);
    g->b = std::move(parts[0]);
    return g;
  }
  auto s = Make(Expr::Kind::kSlice);
  s->a = std::move(target);
  for (auto& p : parts) s->items.push_back(std::move(p));
  return s;
}

Arguments ExpressionParser::CallArguments() {
  ExpectOp("(");
  Arguments args;
  while (!IsOp(")")) {
    if (Peek().kind == Token::Kind::kName && NextIs(Token::Kind::kOperator, "=")) {
      std::string key = Next().text;
      Next();
      args.keyword.emplace_back(std::move(key), Expression());
    } else {
      if (!args.keyword.empty()) Fail("positional argument after keyword argument");
      args.positional.push_back(Expression());
    }
    if (!IsOp(",")) break;
    Next();
  }
  ExpectOp(")");
  return args;
}

ExprPtr ExpressionParser::Filter(ExprPtr e) {
  auto f = Make(Expr::Kind::kFilter);
  f->name = ExpectName();
  while (IsOp(".")) {  // dotted filter names
    Next();
    f->name += fmt::format(".{}", ExpectName());
  }
  if (IsOp("(")) f->args = CallArguments();
  f->a = std::move(e);
  return f;
}

ExprPtr ExpressionParser::Test(ExprPtr e) {
  auto t = Make(Expr::Kind::kTest);
  if (IsName("not")) {
    Next();
    t->negated = true;
  }
  t->name = ExpectName();
  if (IsOp("(")) {
    t->args = CallArguments();
  } else if (TestArgumentFollows()) {
    t->args.positional.push_back(Postfix(Primary()));
  }
  t->a = std::move(e);
  return t;
}

ExprPtr ExpressionParser::FilterExpr(ExprPtr e) {
  while (true) {
    if (IsOp("|")) {
      Next();
      e = Filter(std::move(e));
    } else if (IsName("is")) {
      Next();
      e = Test(std::move(e));
    } else if (IsOp("(")) {
      auto c = Make(Expr::Kind::kCall);
      c->a = std::move(e);
      c->args = CallArguments();
      e = std::move(c);
    } else {
      return e;
    }
  }
}

bool ExpressionParser::TestArgumentFollows() const {
  static const std::set<std::string> kStop = {"and", "or", "else", "if", "in", "not", "is", "for"};
  const Token& t = Peek();
  if (t.kind == Token::Kind::kString || t.kind == Token::Kind::kInt || t.kind == Token::Kind::kFloat) return true;
  if (t.kind == Token::Kind::kName) return kStop.count(t.text) == 0;
  return t.kind == Token::Kind::kOperator && (t.text == "[" || t.text == "{");
}

}  // namespace tf::jinja
