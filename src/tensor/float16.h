// IEEE half and bfloat16 conversions, bit-exact, no hardware requirement.
// Kernels use F16C/AVX-512 conversions; these are the reference. The
// functions are static so that ISA-specific translation units (compiled with
// -mavx512f etc.) get private copies instead of sharing one through the linker.
#pragma once

#include <cstdint>
#include <cstring>

namespace tf {

static inline float BitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
static inline uint32_t FloatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

static inline float Fp16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  uint32_t mantissa = h & 0x3FF;
  if (exponent == 0) {
    if (mantissa == 0) return BitsToFloat(sign);
    // Subnormal half: value = mantissa * 2^-24, exact in float.
    float value = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  if (exponent == 31) return BitsToFloat(sign | 0x7F800000 | (mantissa << 13));
  return BitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Round to nearest even; overflow to infinity; NaN stays NaN.
static inline uint16_t FloatToFp16(float f) {
  const uint32_t bits = FloatToBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7FFFFFFF;
  if (abs > 0x7F800000) return sign | 0x7E00;               // NaN
  if (abs >= 0x477FF000) return sign | 0x7C00;              // overflows to inf
  if (abs < 0x38800000) {                                   // result is subnormal or zero
    // Scale so that the half subnormal unit (2^-24) becomes 1, then round.
    const float scaled = BitsToFloat(abs) * 16777216.0f;    // exact: power of two
    const uint32_t as_int = static_cast<uint32_t>(scaled);
    const float frac = scaled - static_cast<float>(as_int);
    uint32_t rounded = as_int;
    if (frac > 0.5f || (frac == 0.5f && (as_int & 1))) ++rounded;
    return sign | static_cast<uint16_t>(rounded);
  }
  const uint32_t mantissa_odd = (abs >> 13) & 1;
  const uint32_t rounded = abs + 0xFFF + mantissa_odd;
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

static inline float Bf16ToFloat(uint16_t b) { return BitsToFloat(static_cast<uint32_t>(b) << 16); }

// Round to nearest even; NaN stays a (quiet) NaN.
static inline uint16_t FloatToBf16(float f) {
  const uint32_t bits = FloatToBits(f);
  if ((bits & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((bits >> 16) | 0x40);
  const uint32_t rounded = bits + 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(rounded >> 16);
}

}  // namespace tf
