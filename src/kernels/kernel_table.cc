#include "kernels/kernel_table.h"

#include <cstdlib>
#include <string>

#include "base/check.h"
#include "base/cpu_features.h"

namespace tf {
namespace {

KernelTable Build(Isa isa) {
  KernelTable table;
  table.isa = isa;
  FillScalarKernels(&table);
  if (isa == Isa::kAvx2 || isa == Isa::kAvx512) FillAvx2Kernels(&table);
  if (isa == Isa::kAvx512) FillAvx512Kernels(&table);
  return table;
}

bool IsAvailable(Isa isa) {
  const CpuFeatures& f = GetCpuFeatures();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.HasAvx2Set();
    case Isa::kAvx512: return f.HasAvx512Set() && f.avx512vnni;
  }
  return false;
}

}  // namespace

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

std::vector<Isa> AvailableIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (IsAvailable(isa)) out.push_back(isa);
  }
  return out;
}

Isa BestIsa() {
  static const Isa best = [] {
    const std::vector<Isa> isas = AvailableIsas();
    if (const char* forced = std::getenv("TF_ISA")) {
      for (Isa isa : isas) {
        if (IsaName(isa) == forced) return isa;
      }
    }
    return isas.back();
  }();
  return best;
}

const KernelTable& GetKernelTable(Isa isa) {
  TF_CHECK(IsAvailable(isa)) << "instruction set " << IsaName(isa) << " is not available on this CPU";
  static const KernelTable scalar = Build(Isa::kScalar);
  static const KernelTable avx2 = IsAvailable(Isa::kAvx2) ? Build(Isa::kAvx2) : KernelTable{};
  static const KernelTable avx512 = IsAvailable(Isa::kAvx512) ? Build(Isa::kAvx512) : KernelTable{};
  switch (isa) {
    case Isa::kScalar: return scalar;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512: return avx512;
  }
  return scalar;
}

}  // namespace tf
