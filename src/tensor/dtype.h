// Element types of GGUF tensors, numbered as in the GGUF format (ggml_type),
// with their block geometry. A row of `n` elements of a block type occupies
// n / block_size * type_size bytes; n must be a multiple of block_size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tf {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct DTypeTraits {
  std::string_view name;  // as llama.cpp prints it: "q4_K", "bf16"
  int64_t block_size;     // elements per block
  size_t type_size;       // bytes per block
  bool dequantizable;     // tokenfab can turn it into float32
};

// nullopt for ids that no GGUF type uses.
std::optional<DTypeTraits> GetDTypeTraits(uint32_t type_id);
// For known types; CHECKs that `type` is one.
const DTypeTraits& Traits(DType type);

std::string_view DTypeName(DType type);
// Parses names case-insensitively ("Q4_K", "q8_0", "f16").
std::optional<DType> ParseDType(std::string_view name);

// Bytes of a row of `n` elements; nullopt if n is not a multiple of the block
// size (callers report that as a malformed tensor).
std::optional<size_t> RowBytes(DType type, int64_t n);

}  // namespace tf
