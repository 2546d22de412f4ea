// Jinja's expression grammar over one tag's tokens, with its precedence
// (lowest first): conditional `a if c else b`, or, and, not, comparisons
// and `in`, `~`, + -, * / // %, **, unary + -, then postfix (attribute,
// subscript and slice, call) with filters `|` and tests `is` binding
// tighter than any binary operator. The template parser (template_parser.h)
// reads a statement's keywords through the same token cursor.
#pragma once

#include <string>
#include <vector>

#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace tf::jinja {

class ExpressionParser {
 public:
  // `line`: the tag's line, for error messages and the nodes made.
  ExpressionParser(std::vector<Token> tokens, int line) : t_(std::move(tokens)), line_(line) {}

  // One expression; `with_conditional` false stops before a trailing `if`
  // (a for loop's filter).
  ExprPtr Expression(bool with_conditional = true);
  // Comma-separated expressions; a single one without a comma stays itself.
  ExprPtr Tuple(bool with_conditional = true);

  // The token cursor. Fail and the Expect* calls throw JinjaError naming the line.
  const Token& Peek() const { return t_[pos_]; }
  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool IsName(const char* n) const { return Peek().kind == Token::Kind::kName && Peek().text == n; }
  bool IsOp(const char* op) const { return Peek().kind == Token::Kind::kOperator && Peek().text == op; }
  Token Next() { return pos_ + 1 < t_.size() ? t_[pos_++] : t_[pos_]; }
  void ExpectOp(const char* op);
  std::string ExpectName();
  void ExpectEnd();
  [[noreturn]] void Fail(const std::string& what) const;

 private:
  // Bounds recursion so a hostile template cannot exhaust the stack.
  struct DepthGuard {
    explicit DepthGuard(ExpressionParser* p);
    ~DepthGuard() { --p->depth_; }
    ExpressionParser* p;
  };

  ExprPtr Make(Expr::Kind kind);
  ExprPtr Binary(std::string op, ExprPtr a, ExprPtr b);
  bool NextIs(Token::Kind kind, const char* text) const;  // the token after Peek()
  ExprPtr Or();
  ExprPtr And();
  ExprPtr Not();
  ExprPtr Compare();
  ExprPtr Concat();
  ExprPtr Math1();
  ExprPtr Math2();
  ExprPtr Pow();
  ExprPtr Unary(bool with_filter);
  ExprPtr Primary();
  ExprPtr NameOrConstant(const Token& tok);
  ExprPtr Parenthesized();
  ExprPtr ListLiteral();
  ExprPtr DictLiteral();
  ExprPtr Postfix(ExprPtr e);
  ExprPtr Subscript(ExprPtr target);
  Arguments CallArguments();
  ExprPtr FilterExpr(ExprPtr e);
  ExprPtr Filter(ExprPtr e);
  ExprPtr Test(ExprPtr e);
  bool TestArgumentFollows() const;

  std::vector<Token> t_;
  size_t pos_ = 0;
  int line_;
  int depth_ = 0;
};

}  // namespace tf::jinja
