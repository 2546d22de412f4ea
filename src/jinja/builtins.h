// Jinja's filters, tests, global functions and the Python methods of
// strings, lists and dicts that chat templates call.
#pragma once

#include <string>

#include "jinja/value.h"

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

// Argument i (positional) or `name` (keyword), else `fallback`.
Value Arg(const CallArgs& args, size_t i, const char* name, Value fallback = Value());
// Jinja's attribute getter for filters (map, selectattr, sort, ...):
// `path` split at dots, each part a dict key or attribute, an all-digit
// part an integer index or key; Undefined where a part is missing.
Value GetAttributePath(const Value& item, const std::string& path);

}  // namespace tf::jinja
