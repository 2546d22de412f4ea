// What the CPU (and the OS, for AVX-512 register state) supports. Read once
// at start-up; kernels/dispatch.cc picks implementations from it.
#pragma once

#include <string>

namespace tf {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avxvnni = false;

  // AVX2 + FMA + F16C: the floor of our AVX2 kernels.
  bool HasAvx2Set() const { return avx2 && fma && f16c; }
  // F/BW/VL/DQ: the floor of our AVX-512 kernels.
  bool HasAvx512Set() const { return HasAvx2Set() && avx512f && avx512bw && avx512vl && avx512dq; }
  std::string ToString() const;  // "avx2 fma f16c avx512f ..."
};

// Detected once (thread-safe), then cached.
const CpuFeatures& GetCpuFeatures();

}  // namespace tf
