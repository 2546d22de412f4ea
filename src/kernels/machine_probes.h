// Machine-limit probes for `tokenfab bench`, per instruction set, kept out
// of the runtime kernel table: `iters` rounds of the ISA's widest int8
// multiply-accumulate / fp32 FMA in independent chains (returning the
// operations done, 2 per multiply-add), and a streaming read of n bytes.
// The bodies live beside each ISA's kernels (reference/, avx2/, avx512/
// probe.cc), compiled with that ISA's flags.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"

namespace tf {

struct MachineProbes {
  Isa isa = Isa::kScalar;
  double (*int8_ops)(int64_t iters) = nullptr;
  double (*fp32_ops)(int64_t iters) = nullptr;
  uint64_t (*read)(const uint8_t* p, size_t n) = nullptr;  // n a multiple of 128
};

// CHECKs that `isa` is available (AvailableIsas).
const MachineProbes& GetMachineProbes(Isa isa);

}  // namespace tf
