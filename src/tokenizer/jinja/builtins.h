// Jinja's filters, tests, global functions and the Python methods of
// strings, lists and dicts that chat templates call.
#pragma once

#include <string>

#include "tokenizer/jinja/value.h"

namespace tf::jinja {

class Interpreter;

// Throw JinjaError for unknown names or bad arguments.
Value ApplyFilter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);
bool ApplyTest(Interpreter& in, const std::string& name, const Value& input, CallArgs& args);

// A bound method of a string, list or dict (`s.strip`, `d.items`), or
// Undefined when the type has no such method.
Value GetMethod(const Value& object, const std::string& name);

// range, namespace, dict, raise_exception (strftime_now is added by the
// chat template with its clock).
void AddGlobalFunctions(Dict* globals);

// Python len(): code points for strings.
int64_t PyLen(const Value& v);
// Iterating a value as a for loop does (dict: keys, string: characters).
List Iterate(const Value& v);

}  // namespace tf::jinja
