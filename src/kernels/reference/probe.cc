// Scalar machine-limit probes: what the scalar kernels can reach (plain
// multiply-adds, the compiler's own code), so `tokenfab bench` under
// TF_ISA=scalar reports against the right ceiling.
#include "kernels/reference/reference_kernels.h"

namespace tf::reference {

double ProbeInt8Ops(int64_t iters) {
  constexpr int kChains = 8;
  int32_t acc[kChains] = {};
  int32_t b = static_cast<int32_t>(iters & 1) + 1;
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] += static_cast<int8_t>(c + 1) * static_cast<int8_t>(b);
    __asm__ volatile("" : "+r"(b));
  }
  volatile int32_t sink = acc[0] + acc[kChains - 1];
  (void)sink;
  return 2.0 * kChains * static_cast<double>(iters);
}

double ProbeFp32Ops(int64_t iters) {
  constexpr int kChains = 8;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = static_cast<float>(c);
  float b = 1e-7f;
  for (int64_t i = 0; i < iters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999f + b;
    __asm__ volatile("" : "+x"(b));
  }
  volatile float sink = acc[0] + acc[kChains - 1];
  (void)sink;
  return 2.0 * kChains * static_cast<double>(iters);
}

uint64_t ProbeRead(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    __builtin_memcpy(&v, p + i, 8);
    acc ^= v;
  }
  return acc;
}

}  // namespace tf::reference
