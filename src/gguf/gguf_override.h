// Metadata overrides, given on the command line as KEY=TYPE:VALUE with TYPE
// one of int, float, bool, str (the syntax of llama.cpp's --override-kv).
// They correct or add keys of an opened file without rewriting it: the
// parsed metadata changes, the mapped bytes do not. Knows nothing about
// what the keys mean.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "gguf/gguf_file.h"

namespace tf {

// "deepseek2.expert_group_count=int:8" -> {key, int64 8}. Errors name the
// spec and what is wrong with it (no '=', unknown type, a value that does not
// parse in full or is out of range, a non-finite float).
StatusOr<GgufKeyValue> ParseGgufOverride(std::string_view spec);

// Parses every spec and applies it to `file` in order (a later spec for the
// same key wins). Stops at the first bad spec.
Status ApplyGgufOverrides(const std::vector<std::string>& specs, GgufFile* file);

// "key=type:value;..." of the specs as given, for fingerprints and logs.
std::string DescribeGgufOverrides(const std::vector<std::string>& specs);

}  // namespace tf
