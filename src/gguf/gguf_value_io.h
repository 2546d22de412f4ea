// Encoding and decoding of GGUF metadata values. Decoding is bounded: an
// array's count is checked against the bytes left (each element needs at
// least its minimum encoded size) before anything is reserved, and nesting
// is limited so a crafted file cannot exhaust the stack.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "gguf/byte_reader.h"
#include "gguf/gguf_value.h"

namespace tf {

inline constexpr int kGgufMaxArrayNesting = 8;

// Reads a value of `type` (already read from the file). `key` names the value
// in errors.
Status ReadGgufValue(ByteReader* reader, uint32_t type_id, std::string_view key, GgufValue* out);

// Appends the encoding of `value` (without its type tag) to `out`.
void AppendGgufValue(const GgufValue& value, std::string* out);
void AppendGgufString(std::string_view s, std::string* out);

template <typename T>
void AppendLittleEndian(T v, std::string* out) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace tf
