// The syntax tree of a parsed template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace tf::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // items
    kTuple,      // items
    kDict,       // items as key, value pairs (items[2i], items[2i+1])
    kGetAttr,    // a . name
    kGetItem,    // a [ b ]
    kSlice,      // a [ items[0] : items[1] : items[2] ] (null parts allowed)
    kCall,       // a ( args )
    kFilter,     // a | name ( args )
    kTest,       // a is [not] name ( args )
    kUnary,      // op a          (op: "not", "-", "+")
    kBinary,     // a op b
    kConditional // items[0] if a else items[1] (items[1] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // name, attribute, filter/test name, operator
  bool negated = false;
  ExprPtr a, b;
  std::vector<ExprPtr> items;
  Arguments args;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // may be null
};

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches: conditions[i] -> bodies[i]; else_body
    kFor,       // targets in expr [if cond] body [else else_body]
    kSet,       // targets = expr, or target_object . attribute = expr
    kSetBlock,  // {% set name %} body {% endset %}
    kMacro,     // macro name(params) body
    kCallBlock, // {% call macro(args) %} body {% endcall %}: body is `caller`
    kFilterBlock, // {% filter name(args) %} body
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  std::string text;                  // text, macro name, set/filter name
  ExprPtr expr;                      // output value, for iterable, set value
  ExprPtr condition;                 // for-loop filter
  ExprPtr target_object;             // set ns.attr = ...
  std::vector<std::string> targets;  // loop / set names (tuple unpacking)
  std::vector<ExprPtr> conditions;   // if / elif
  std::vector<Body> bodies;          // one per condition
  Body body;
  Body else_body;
  std::vector<MacroParam> params;
  Arguments args;                    // filter block arguments
};

}  // namespace tf::jinja
