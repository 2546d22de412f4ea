// Parses a template into a syntax tree: text, output tags and statements
// (if/elif/else, for/else with filters, set and block set, macros, call and
// filter blocks, break and continue); each tag's expressions go through
// the expression parser (expression_parser.h).
#pragma once

#include <string>

#include "jinja/ast.h"

namespace tf::jinja {

// Throws JinjaError naming the line for a syntax error.
Body ParseTemplate(const std::string& source);

}  // namespace tf::jinja
