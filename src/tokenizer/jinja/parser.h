// Parses template segments into a syntax tree (if/elif/else, for/else with
// filters, set and block set, macros, call and filter blocks, break and
// continue) with Jinja's expression grammar and precedence.
#pragma once

#include <string>

#include "tokenizer/jinja/ast.h"

namespace tf::jinja {

// Throws JinjaError naming the line for a syntax error.
Body ParseTemplate(const std::string& source);

}  // namespace tf::jinja
