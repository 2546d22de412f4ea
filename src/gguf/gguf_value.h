// Metadata values of a GGUF file: the 13 value types of the format, with
// arrays (possibly nested) stored compactly. Values own their data so they can
// be copied from one file into a writer for another.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tf {

// Numbering is the file format's; the variant in GgufValue uses the same order.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
inline constexpr uint32_t kNumGgufTypes = 13;

std::string_view GgufTypeName(GgufType type);
// Encoded size of a scalar type; 0 for string and array.
size_t GgufScalarSize(GgufType type);
bool IsGgufScalar(GgufType type);

class GgufValue;

// An array of one element type. Exactly one storage is used: `scalars`
// (packed little-endian elements), `strings`, or `arrays`.
struct GgufArray {
  GgufType elem_type = GgufType::kUint8;
  std::vector<uint8_t> scalars;
  std::vector<std::string> strings;
  std::vector<GgufValue> arrays;

  size_t size() const;
  // Element i of an integer array as int64 (nullopt: not an integer array,
  // or an unsigned value above INT64_MAX).
  std::optional<int64_t> IntAt(size_t i) const;
  // Element i of a float/integer array as double.
  std::optional<double> FloatAt(size_t i) const;
  template <typename T>
  T ScalarAt(size_t i) const {
    T v;
    std::memcpy(&v, scalars.data() + i * sizeof(T), sizeof(T));
    return v;
  }
};

class GgufValue {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float,
                               bool, std::string, GgufArray, uint64_t, int64_t, double>;

  GgufValue() : storage_(uint8_t{0}) {}
  template <typename T>
  explicit GgufValue(T value) : storage_(std::move(value)) {}
  explicit GgufValue(const char* s) : storage_(std::string(s)) {}

  GgufType type() const { return static_cast<GgufType>(storage_.index()); }
  const Storage& storage() const { return storage_; }

  // Integer types (any width/sign) as int64; nullopt for other types or
  // unsigned values above INT64_MAX.
  std::optional<int64_t> AsInt() const;
  // Float and integer types as double.
  std::optional<double> AsFloat() const;
  std::optional<bool> AsBool() const;
  const std::string* AsString() const { return std::get_if<std::string>(&storage_); }
  const GgufArray* AsArray() const { return std::get_if<GgufArray>(&storage_); }

  // Short human form for `tokenfab info`: scalars in full, strings cut at
  // `max_chars`, arrays as "[type; count]".
  std::string ToDisplayString(size_t max_chars = 60) const;

 private:
  Storage storage_;
};

// Builders for arrays (used by the writer and synth).
GgufValue MakeStringArray(std::vector<std::string> strings);
GgufValue MakeFloat32Array(const std::vector<float>& values);
GgufValue MakeInt32Array(const std::vector<int32_t>& values);

}  // namespace tf
