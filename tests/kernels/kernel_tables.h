// The kernel tables tests run: every instruction set this CPU has, plus the
// AVX-512 kernels compiled against SIMDe (emulated) when the CPU lacks
// AVX-512, so that no kernel goes untested.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/kernel_table.h"

namespace tf::testing {

struct NamedTable {
  std::string name;
  const KernelTable* table;
};
inline void PrintTo(const NamedTable& t, std::ostream* os) { *os << t.name; }

inline const KernelTable& EmulatedAvx512Table() {
  static const KernelTable table = [] {
    KernelTable t;
    t.isa = Isa::kAvx512;
    FillScalarKernels(&t);
    if (GetCpuFeatures().HasAvx2Set()) FillAvx2Kernels(&t);
    FillAvx512KernelsEmulated(&t);
    return t;
  }();
  return table;
}

inline std::vector<NamedTable> TablesToTest() {
  std::vector<NamedTable> out;
  for (Isa isa : AvailableIsas()) out.push_back({std::string(IsaName(isa)), &GetKernelTable(isa)});
  // SIMDe's emulation is compiled with AVX2 code paths.
  if (GetCpuFeatures().HasAvx2Set()) out.push_back({"avx512_emulated", &EmulatedAvx512Table()});
  return out;
}

}  // namespace tf::testing
