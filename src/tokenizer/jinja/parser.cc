#include "tokenizer/jinja/parser.h"

#include <set>

#include <fmt/format.h>

#include "tokenizer/jinja/error.h"
#include "tokenizer/jinja/lexer.h"

namespace tf::jinja {
namespace {

constexpr int kMaxExpressionDepth = 200;

class ExprParser {
 public:
  ExprParser(std::vector<Token> tokens, int line) : t_(std::move(tokens)), line_(line) {}

  ExprPtr Expression(bool with_conditional = true) {
    DepthGuard guard(this);
    ExprPtr e = Or();
    if (with_conditional && IsName("if")) {
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
    return e;
  }

  // Comma-separated expressions; a single one without a comma stays itself.
  ExprPtr Tuple(bool with_conditional = true) {
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

  const Token& Peek() const { return t_[pos_]; }
  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool IsName(const char* n) const { return Peek().kind == Token::Kind::kName && Peek().text == n; }
  bool IsOp(const char* op) const { return Peek().kind == Token::Kind::kOperator && Peek().text == op; }
  Token Next() { return pos_ + 1 < t_.size() ? t_[pos_++] : t_[pos_]; }
  void ExpectOp(const char* op) {
    if (!IsOp(op)) Fail(fmt::format("expected '{}', found '{}'", op, Peek().text));
    Next();
  }
  std::string ExpectName() {
    if (Peek().kind != Token::Kind::kName) Fail(fmt::format("expected a name, found '{}'", Peek().text));
    return Next().text;
  }
  void ExpectEnd() {
    if (!AtEnd()) Fail(fmt::format("unexpected '{}'", Peek().text));
  }
  [[noreturn]] void Fail(const std::string& what) const {
    throw JinjaError(fmt::format("line {}: {}", line_, what));
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(ExprParser* p) : p(p) {
      if (++p->depth_ > kMaxExpressionDepth) p->Fail("expression nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
    ExprParser* p;
  };

  ExprPtr Make(Expr::Kind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line_;
    return e;
  }
  ExprPtr Binary(std::string op, ExprPtr a, ExprPtr b) {
    auto e = Make(Expr::Kind::kBinary);
    e->name = std::move(op);
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  ExprPtr Or() {
    ExprPtr e = And();
    while (IsName("or")) {
      Next();
      e = Binary("or", std::move(e), And());
    }
    return e;
  }
  ExprPtr And() {
    ExprPtr e = Not();
    while (IsName("and")) {
      Next();
      e = Binary("and", std::move(e), Not());
    }
    return e;
  }
  ExprPtr Not() {
    if (IsName("not")) {
      DepthGuard guard(this);
      Next();
      auto e = Make(Expr::Kind::kUnary);
      e->name = "not";
      e->a = Not();
      return e;
    }
    return Compare();
  }
  ExprPtr Compare() {
    ExprPtr e = Concat();
    while (true) {
      if (Peek().kind == Token::Kind::kOperator &&
          (Peek().text == "==" || Peek().text == "!=" || Peek().text == "<" || Peek().text == ">" ||
           Peek().text == "<=" || Peek().text == ">=")) {
        const std::string op = Next().text;
        e = Binary(op, std::move(e), Concat());
      } else if (IsName("in")) {
        Next();
        e = Binary("in", std::move(e), Concat());
      } else if (IsName("not") && pos_ + 1 < t_.size() && t_[pos_ + 1].kind == Token::Kind::kName &&
                 t_[pos_ + 1].text == "in") {
        Next();
        Next();
        e = Binary("not in", std::move(e), Concat());
      } else {
        return e;
      }
    }
  }
  ExprPtr Concat() {
    ExprPtr e = Math1();
    while (IsOp("~")) {
      Next();
      e = Binary("~", std::move(e), Math1());
    }
    return e;
  }
  ExprPtr Math1() {
    ExprPtr e = Math2();
    while (IsOp("+") || IsOp("-")) {
      const std::string op = Next().text;
      e = Binary(op, std::move(e), Math2());
    }
    return e;
  }
  ExprPtr Math2() {
    ExprPtr e = Pow();
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      const std::string op = Next().text;
      e = Binary(op, std::move(e), Pow());
    }
    return e;
  }
  ExprPtr Pow() {
    ExprPtr e = Unary(true);
    while (IsOp("**")) {
      Next();
      e = Binary("**", std::move(e), Unary(true));
    }
    return e;
  }
  ExprPtr Unary(bool with_filter) {
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

  ExprPtr Primary() {
    const Token tok = Peek();
    switch (tok.kind) {
      case Token::Kind::kName: {
        Next();
        auto e = Make(Expr::Kind::kLiteral);
        if (tok.text == "true" || tok.text == "True") e->value = Value::Bool(true);
        else if (tok.text == "false" || tok.text == "False") e->value = Value::Bool(false);
        else if (tok.text == "none" || tok.text == "None") e->value = Value::None();
        else {
          e->kind = Expr::Kind::kName;
          e->name = tok.text;
        }
        return e;
      }
      case Token::Kind::kString: {
        std::string s;
        while (Peek().kind == Token::Kind::kString) s += Next().text;  // "a" "b" concatenates
        auto e = Make(Expr::Kind::kLiteral);
        e->value = Value::String(std::move(s));
        return e;
      }
      case Token::Kind::kInt: {
        Next();
        auto e = Make(Expr::Kind::kLiteral);
        e->value = Value::Int(tok.int_value);
        return e;
      }
      case Token::Kind::kFloat: {
        Next();
        auto e = Make(Expr::Kind::kLiteral);
        e->value = Value::Float(tok.float_value);
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

  ExprPtr Parenthesized() {
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

  ExprPtr ListLiteral() {
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

  ExprPtr DictLiteral() {
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

  ExprPtr Postfix(ExprPtr e) {
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

  ExprPtr Subscript(ExprPtr target) {
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

  Arguments CallArguments() {
    ExpectOp("(");
    Arguments args;
    while (!IsOp(")")) {
      if (Peek().kind == Token::Kind::kName && pos_ + 1 < t_.size() && t_[pos_ + 1].kind == Token::Kind::kOperator &&
          t_[pos_ + 1].text == "=") {
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

  ExprPtr FilterExpr(ExprPtr e) {
    while (true) {
      if (IsOp("|")) {
        Next();
        auto f = Make(Expr::Kind::kFilter);
        f->name = ExpectName();
        while (IsOp(".")) {  // dotted filter names
          Next();
          f->name += fmt::format(".{}", ExpectName());
        }
        if (IsOp("(")) f->args = CallArguments();
        f->a = std::move(e);
        e = std::move(f);
      } else if (IsName("is")) {
        Next();
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
        e = std::move(t);
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

  bool TestArgumentFollows() const {
    static const std::set<std::string> kStop = {"and", "or", "else", "if", "in", "not", "is", "for"};
    const Token& t = Peek();
    if (t.kind == Token::Kind::kString || t.kind == Token::Kind::kInt || t.kind == Token::Kind::kFloat) return true;
    if (t.kind == Token::Kind::kName) return kStop.count(t.text) == 0;
    return t.kind == Token::Kind::kOperator && (t.text == "[" || t.text == "{");
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  int line_;
  int depth_ = 0;
};

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Segment> segments) : seg_(std::move(segments)) {}

  Body Parse() {
    std::string ended;
    Body body = ParseBody({}, &ended, nullptr);
    return body;
  }

 private:
  // Parses until a statement whose first word is in `stops`; that word is
  // returned in *ended and its tokens (after the word) in *rest.
  Body ParseBody(const std::set<std::string>& stops, std::string* ended, std::unique_ptr<ExprParser>* rest) {
    Body body;
    while (pos_ < seg_.size()) {
      const Segment& s = seg_[pos_++];
      if (s.kind == Segment::Kind::kText) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::kText;
        st->text = s.text;
        body.push_back(std::move(st));
        continue;
      }
      auto p = std::make_unique<ExprParser>(TokenizeTag(s.text, s.line), s.line);
      if (s.kind == Segment::Kind::kExpression) {
        auto st = std::make_unique<Stmt>();
        st->kind = Stmt::Kind::kOutput;
        st->line = s.line;
        st->expr = p->Tuple();
        p->ExpectEnd();
        body.push_back(std::move(st));
        continue;
      }
      const std::string word = p->ExpectName();
      if (stops.count(word) != 0) {
        *ended = word;
        if (rest != nullptr) *rest = std::move(p);
        return body;
      }
      StmtPtr st = Statement(word, *p, s.line);
      if (st != nullptr) body.push_back(std::move(st));
    }
    if (!stops.empty()) {
      throw JinjaError(fmt::format("unexpected end of template: missing {{% {} %}}", *stops.rbegin()));
    }
    return body;
  }

  StmtPtr New(Stmt::Kind kind, int line) {
    auto st = std::make_unique<Stmt>();
    st->kind = kind;
    st->line = line;
    return st;
  }

  StmtPtr Statement(const std::string& word, ExprParser& p, int line) {
    if (word == "if") return If(p, line);
    if (word == "for") return For(p, line);
    if (word == "set") return Set(p, line);
    if (word == "macro") return Macro(p, line);
    if (word == "call") return CallBlock(p, line);
    if (word == "filter") return FilterBlock(p, line);
    if (word == "break" || word == "continue") {
      p.ExpectEnd();
      return New(word == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, line);
    }
    if (word == "generation") {  // Hugging Face's assistant-mask marker: renders its body
      p.ExpectEnd();
      auto st = New(Stmt::Kind::kIf, line);
      auto truth = std::make_unique<Expr>();
      truth->kind = Expr::Kind::kLiteral;
      truth->value = Value::Bool(true);
      st->conditions.push_back(std::move(truth));
      std::string ended;
      st->bodies.push_back(ParseBody({"endgeneration"}, &ended, nullptr));
      return st;
    }
    p.Fail(fmt::format("unknown tag '{}'", word));
  }

  StmtPtr If(ExprParser& p, int line) {
    auto st = New(Stmt::Kind::kIf, line);
    st->conditions.push_back(p.Tuple());
    p.ExpectEnd();
    while (true) {
      std::string ended;
      std::unique_ptr<ExprParser> rest;
      Body body = ParseBody({"elif", "else", "endif"}, &ended, &rest);
      if (ended == "elif") {
        st->bodies.push_back(std::move(body));
        st->conditions.push_back(rest->Tuple());
        rest->ExpectEnd();
        continue;
      }
      st->bodies.push_back(std::move(body));
      if (ended == "else") {
        rest->ExpectEnd();
        st->else_body = ParseBody({"endif"}, &ended, &rest);
      }
      rest->ExpectEnd();
      return st;
    }
  }

  std::vector<std::string> Targets(ExprParser& p) {
    std::vector<std::string> names;
    const bool paren = p.IsOp("(");
    if (paren) p.Next();
    names.push_back(p.ExpectName());
    while (p.IsOp(",")) {
      p.Next();
      names.push_back(p.ExpectName());
    }
    if (paren) p.ExpectOp(")");
    return names;
  }

  StmtPtr For(ExprParser& p, int line) {
    auto st = New(Stmt::Kind::kFor, line);
    st->targets = Targets(p);
    if (!p.IsName("in")) p.Fail("expected 'in' in for loop");
    p.Next();
    st->expr = p.Tuple(false);
    if (p.IsName("if")) {
      p.Next();
      st->condition = p.Expression();
    }
    if (p.IsName("recursive")) p.Fail("recursive loops are not supported");
    p.ExpectEnd();
    std::string ended;
    std::unique_ptr<ExprParser> rest;
    st->body = ParseBody({"else", "endfor"}, &ended, &rest);
    if (ended == "else") {
      rest->ExpectEnd();
      st->else_body = ParseBody({"endfor"}, &ended, &rest);
    }
    rest->ExpectEnd();
    return st;
  }

  StmtPtr Set(ExprParser& p, int line) {
    const std::string first = p.ExpectName();
    if (p.IsOp(".")) {  // set ns.attr = value
      p.Next();
      auto st = New(Stmt::Kind::kSet, line);
      auto obj = std::make_unique<Expr>();
      obj->kind = Expr::Kind::kName;
      obj->name = first;
      obj->line = line;
      st->target_object = std::move(obj);
      st->targets.push_back(p.ExpectName());
      p.ExpectOp("=");
      st->expr = p.Tuple();
      p.ExpectEnd();
      return st;
    }
    std::vector<std::string> targets = {first};
    while (p.IsOp(",")) {
      p.Next();
      targets.push_back(p.ExpectName());
    }
    if (p.IsOp("=")) {
      p.Next();
      auto st = New(Stmt::Kind::kSet, line);
      st->targets = std::move(targets);
      st->expr = p.Tuple();
      p.ExpectEnd();
      return st;
    }
    if (targets.size() != 1) p.Fail("a block set takes one name");
    auto st = New(Stmt::Kind::kSetBlock, line);
    st->text = first;
    if (p.IsOp("|")) p.Fail("filters on block set are not supported");
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endset"}, &ended, nullptr);
    return st;
  }

  std::vector<MacroParam> Params(ExprParser& p) {
    std::vector<MacroParam> params;
    p.ExpectOp("(");
    while (!p.IsOp(")")) {
      MacroParam param;
      param.name = p.ExpectName();
      if (p.IsOp("=")) {
        p.Next();
        param.default_value = p.Expression();
      }
      params.push_back(std::move(param));
      if (!p.IsOp(",")) break;
      p.Next();
    }
    p.ExpectOp(")");
    return params;
  }

  StmtPtr Macro(ExprParser& p, int line) {
    auto st = New(Stmt::Kind::kMacro, line);
    st->text = p.ExpectName();
    st->params = Params(p);
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endmacro"}, &ended, nullptr);
    return st;
  }

  StmtPtr CallBlock(ExprParser& p, int line) {
    auto st = New(Stmt::Kind::kCallBlock, line);
    if (p.IsOp("(")) st->params = Params(p);  // the caller's own parameters
    st->expr = p.Expression();
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endcall"}, &ended, nullptr);
    return st;
  }

  StmtPtr FilterBlock(ExprParser& p, int line) {
    auto st = New(Stmt::Kind::kFilterBlock, line);
    st->text = p.ExpectName();
    if (p.IsOp("(")) p.Fail("filter blocks with arguments are not supported");
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endfilter"}, &ended, nullptr);
    return st;
  }

  std::vector<Segment> seg_;
  size_t pos_ = 0;
};

}  // namespace

Body ParseTemplate(const std::string& source) {
  TemplateParser parser(SplitTemplate(source));
  return parser.Parse();
}

}  // namespace tf::jinja
