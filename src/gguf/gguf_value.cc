#include "gguf/gguf_value.h"

#include <fmt/format.h>

#include <limits>

namespace tf {

std::string_view GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8: return "u8";
    case GgufType::kInt8: return "i8";
    case GgufType::kUint16: return "u16";
    case GgufType::kInt16: return "i16";
    case GgufType::kUint32: return "u32";
    case GgufType::kInt32: return "i32";
    case GgufType::kFloat32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kUint64: return "u64";
    case GgufType::kInt64: return "i64";
    case GgufType::kFloat64: return "f64";
  }
  return "?";
}

size_t GgufScalarSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

bool IsGgufScalar(GgufType type) { return GgufScalarSize(type) != 0; }

size_t GgufArray::size() const {
  if (elem_type == GgufType::kString) return strings.size();
  if (elem_type == GgufType::kArray) return arrays.size();
  return scalars.size() / GgufScalarSize(elem_type);
}

std::optional<int64_t> GgufArray::IntAt(size_t i) const {
  switch (elem_type) {
    case GgufType::kUint8: return ScalarAt<uint8_t>(i);
    case GgufType::kInt8: return ScalarAt<int8_t>(i);
    case GgufType::kUint16: return ScalarAt<uint16_t>(i);
    case GgufType::kInt16: return ScalarAt<int16_t>(i);
    case GgufType::kUint32: return ScalarAt<uint32_t>(i);
    case GgufType::kInt32: return ScalarAt<int32_t>(i);
    case GgufType::kInt64: return ScalarAt<int64_t>(i);
    case GgufType::kUint64: {
      const uint64_t v = ScalarAt<uint64_t>(i);
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(v);
    }
    default: return std::nullopt;
  }
}

std::optional<double> GgufArray::FloatAt(size_t i) const {
  if (elem_type == GgufType::kFloat32) return ScalarAt<float>(i);
  if (elem_type == GgufType::kFloat64) return ScalarAt<double>(i);
  if (elem_type == GgufType::kUint64) return static_cast<double>(ScalarAt<uint64_t>(i));
  auto as_int = IntAt(i);
  if (as_int) return static_cast<double>(*as_int);
  return std::nullopt;
}

std::optional<int64_t> GgufValue::AsInt() const {
  return std::visit(
      [](const auto& v) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return static_cast<int64_t>(v);
        } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<int64_t>(v);
        } else {
          return std::nullopt;
        }
      },
      storage_);
}

std::optional<double> GgufValue::AsFloat() const {
  if (auto* f = std::get_if<float>(&storage_)) return *f;
  if (auto* d = std::get_if<double>(&storage_)) return *d;
  if (auto* u = std::get_if<uint64_t>(&storage_)) return static_cast<double>(*u);
  if (auto i = AsInt()) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<bool> GgufValue::AsBool() const {
  if (auto* b = std::get_if<bool>(&storage_)) return *b;
  return std::nullopt;
}

std::string GgufValue::ToDisplayString(size_t max_chars) const {
  if (const std::string* s = AsString()) {
    if (s->size() <= max_chars) return fmt::format("\"{}\"", *s);
    return fmt::format("\"{}...\" ({} bytes)", s->substr(0, max_chars), s->size());
  }
  if (const GgufArray* a = AsArray()) {
    return fmt::format("[{}; {}]", GgufTypeName(a->elem_type), a->size());
  }
  if (auto b = AsBool()) return *b ? "true" : "false";
  if (type() == GgufType::kFloat32 || type() == GgufType::kFloat64) {
    return fmt::format("{}", *AsFloat());
  }
  if (auto* u = std::get_if<uint64_t>(&storage_)) return fmt::format("{}", *u);
  return fmt::format("{}", *AsInt());
}

GgufValue MakeStringArray(std::vector<std::string> strings) {
  GgufArray a;
  a.elem_type = GgufType::kString;
  a.strings = std::move(strings);
  return GgufValue(std::move(a));
}

GgufValue MakeFloat32Array(const std::vector<float>& values) {
  GgufArray a;
  a.elem_type = GgufType::kFloat32;
  a.scalars.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(a.scalars.data(), values.data(), a.scalars.size());
  return GgufValue(std::move(a));
}

GgufValue MakeInt32Array(const std::vector<int32_t>& values) {
  GgufArray a;
  a.elem_type = GgufType::kInt32;
  a.scalars.resize(values.size() * sizeof(int32_t));
  if (!values.empty()) std::memcpy(a.scalars.data(), values.data(), a.scalars.size());
  return GgufValue(std::move(a));
}

}  // namespace tf
