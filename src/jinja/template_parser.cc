#include "jinja/template_parser.h"

#include <set>

#include <fmt/format.h>

#include "jinja/error.h"
#include "jinja/expression_parser.h"

namespace tf::jinja {
namespace {

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
  Body ParseBody(const std::set<std::string>& stops, std::string* ended, std::unique_ptr<ExpressionParser>* rest) {
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
      auto p = std::make_unique<ExpressionParser>(TokenizeTag(s.text, s.line), s.line);
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

  StmtPtr Statement(const std::string& word, ExpressionParser& p, int line) {
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

  StmtPtr If(ExpressionParser& p, int line) {
    auto st = New(Stmt::Kind::kIf, line);
    st->conditions.push_back(p.Tuple());
    p.ExpectEnd();
    while (true) {
      std::string ended;
      std::unique_ptr<ExpressionParser> rest;
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

  std::vector<std::string> Targets(ExpressionParser& p) {
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

  StmtPtr For(ExpressionParser& p, int line) {
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
    std::unique_ptr<ExpressionParser> rest;
    st->body = ParseBody({"else", "endfor"}, &ended, &rest);
    if (ended == "else") {
      rest->ExpectEnd();
      st->else_body = ParseBody({"endfor"}, &ended, &rest);
    }
    rest->ExpectEnd();
    return st;
  }

  StmtPtr Set(ExpressionParser& p, int line) {
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

  std::vector<MacroParam> Params(ExpressionParser& p) {
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

  StmtPtr Macro(ExpressionParser& p, int line) {
    auto st = New(Stmt::Kind::kMacro, line);
    st->text = p.ExpectName();
    st->params = Params(p);
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endmacro"}, &ended, nullptr);
    return st;
  }

  StmtPtr CallBlock(ExpressionParser& p, int line) {
    auto st = New(Stmt::Kind::kCallBlock, line);
    if (p.IsOp("(")) st->params = Params(p);  // the caller's own parameters
    st->expr = p.Expression();
    p.ExpectEnd();
    std::string ended;
    st->body = ParseBody({"endcall"}, &ended, nullptr);
    return st;
  }

  StmtPtr FilterBlock(ExpressionParser& p, int line) {
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
