// Python's operators on Jinja values, as the reference renderer (Jinja2 on
// Python) applies them: arithmetic (+ - * / // % ** on numbers, Python's
// floor division and modulo; integers are 64-bit here, so an overflow
// raises instead of growing), ordering, `in`, and slice indices. Each
// throws JinjaError where Python raises TypeError, ZeroDivisionError, ...;
// the interpreter adds the line.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "jinja/value.h"

namespace tf::jinja {

Value PyArith(std::string_view op, const Value& a, const Value& b);

// Python's `<` ordering (sorted(), min(), comparisons): numbers by value,
// strings by code point, lists and tuples lexicographically against their
// own kind; anything else raises. Returns <0, 0 or >0.
int PyCompare(const Value& a, const Value& b);

// `item in container`; raises for containers that cannot hold.
bool PyContains(const Value& container, const Value& item);

// The indices seq[start:stop:step] selects from a sequence of n items.
std::vector<int64_t> PySliceIndices(int64_t n, const Value& start, const Value& stop, const Value& step);

}  // namespace tf::jinja
