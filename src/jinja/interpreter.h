// Executes a parsed template against a context of variables with Python
// semantics, as the Hugging Face renderer (Jinja2, sandboxed, no autoescape)
// would: scoping of loops and macros, loop variables, namespaces, macros
// with defaults and `caller`, filters, tests and methods (builtins.cc).
// Rendering is bounded in output size, loop iterations and call depth.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "jinja/ast.h"
#include "jinja/value.h"

namespace tf::jinja {

struct RenderLimits {
  size_t max_output_bytes = 16u << 20;
  // Every iteration builds a loop dict (~2 us in Release, 20x that under
  // the sanitizers): 100k bounds a hostile template's render to a fraction
  // of a second, far above any real chat template's loops.
  int64_t max_loop_iterations = 100'000;
  int max_call_depth = 64;
};

class Interpreter {
 public:
  Interpreter(const Body& program, Value globals, RenderLimits limits = {});
  // Throws JinjaError (or TemplateRaised from raise_exception).
  std::string Render();

  // Used by builtins.
  Value Eval(const Expr& e);
  void CountIteration();
  const RenderLimits& limits() const { return limits_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Frame = std::unordered_map<std::string, Value>;

  Flow Exec(const Body& body);
  Flow ExecStmt(const Stmt& st);
  Flow ExecIf(const Stmt& st);
  Flow ExecFor(const Stmt& st);
  void ExecSet(const Stmt& st);
  void ExecMacro(const Stmt& st);
  void ExecCallBlock(const Stmt& st);
  void Emit(const std::string& text);
  std::string Capture(const Body& body);

  Value Lookup(const std::string& name) const;
  void Assign(const std::string& name, Value value);
  Value MakeMacro(const Stmt& st, std::vector<Frame> closure);
  CallArgs EvalArgs(const Arguments& args);

  Value EvalBinary(const Expr& e);
  Value EvalDict(const Expr& e);
  Value EvalGetAttr(const Value& obj, const std::string& name, int line);
  Value EvalGetItem(const Value& obj, const Value& key, int line);
  Value EvalSlice(const Expr& e);

  const Body& program_;
  Value globals_;
  RenderLimits limits_;
  Frame top_;                  // template-level variables
  std::vector<Frame> frames_;  // loop / macro frames, innermost last
  std::string out_;
  std::string* sink_ = &out_;
  int64_t iterations_ = 0;
  int depth_ = 0;
};

}  // namespace tf::jinja
