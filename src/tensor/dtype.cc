#include "tensor/dtype.h"

#include <array>
#include <cctype>

#include "base/check.h"

namespace tf {
namespace {

struct Entry {
  uint32_t id;
  DTypeTraits traits;
};

constexpr std::array<Entry, 32> kTypes = {{
    {0, {"f32", 1, 4, true}},
    {1, {"f16", 1, 2, true}},
    {2, {"q4_0", 32, 18, true}},
    {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},
    {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},
    {9, {"q8_1", 32, 36, true}},
    {10, {"q2_K", 256, 84, false}},
    {11, {"q3_K", 256, 110, false}},
    {12, {"q4_K", 256, 144, true}},
    {13, {"q5_K", 256, 176, true}},
    {14, {"q6_K", 256, 210, true}},
    {15, {"q8_K", 256, 292, true}},
    {16, {"iq2_xxs", 256, 66, false}},
    {17, {"iq2_xs", 256, 74, false}},
    {18, {"iq3_xxs", 256, 98, false}},
    {19, {"iq1_s", 256, 50, false}},
    {20, {"iq4_nl", 32, 18, false}},
    {21, {"iq3_s", 256, 110, false}},
    {22, {"iq2_s", 256, 82, false}},
    {23, {"iq4_xs", 256, 136, false}},
    {24, {"i8", 1, 1, false}},
    {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},
    {27, {"i64", 1, 8, false}},
    {28, {"f64", 1, 8, false}},
    {29, {"iq1_m", 256, 56, false}},
    {30, {"bf16", 1, 2, true}},
    {34, {"tq1_0", 256, 54, false}},
    {35, {"tq2_0", 256, 66, false}},
    {39, {"mxfp4", 32, 17, false}},
}};

const Entry* Find(uint32_t id) {
  for (const Entry& e : kTypes) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<DTypeTraits> GetDTypeTraits(uint32_t type_id) {
  const Entry* e = Find(type_id);
  if (e == nullptr) return std::nullopt;
  return e->traits;
}

const DTypeTraits& Traits(DType type) {
  const Entry* e = Find(static_cast<uint32_t>(type));
  TF_CHECK(e != nullptr) << "unknown dtype " << static_cast<uint32_t>(type);
  return e->traits;
}

std::string_view DTypeName(DType type) { return Traits(type).name; }

std::optional<DType> ParseDType(std::string_view name) {
  for (const Entry& e : kTypes) {
    if (EqualsIgnoreCase(e.traits.name, name)) return static_cast<DType>(e.id);
  }
  return std::nullopt;
}

std::optional<size_t> RowBytes(DType type, int64_t n) {
  const DTypeTraits& t = Traits(type);
  if (n < 0 || n % t.block_size != 0) return std::nullopt;
  return static_cast<size_t>(n / t.block_size) * t.type_size;
}

}  // namespace tf
