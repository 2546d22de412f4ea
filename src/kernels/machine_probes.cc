#include "kernels/machine_probes.h"

#include "base/check.h"
#include "kernels/avx2/avx2_kernels.h"
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/reference/reference_kernels.h"

namespace tf {

const MachineProbes& GetMachineProbes(Isa isa) {
  bool available = false;
  for (Isa a : AvailableIsas()) available = available || a == isa;
  TF_CHECK(available) << "instruction set " << IsaName(isa) << " is not available on this CPU";
  static const MachineProbes scalar{Isa::kScalar, reference::ProbeInt8Ops, reference::ProbeFp32Ops,
                                    reference::ProbeRead};
  static const MachineProbes avx2{Isa::kAvx2, avx2::ProbeInt8Ops, avx2::ProbeFp32Ops, avx2::ProbeRead};
  static const MachineProbes avx512{Isa::kAvx512, avx512::ProbeInt8Ops, avx512::ProbeFp32Ops, avx512::ProbeRead};
  switch (isa) {
    case Isa::kScalar: return scalar;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512: return avx512;
  }
  return scalar;
}

}  // namespace tf
