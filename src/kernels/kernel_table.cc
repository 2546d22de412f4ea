#include "kernels/kernel_table.h"

#include <cstdlib>
#include <string>

#include "base/check.h"
#include "base/cpu_features.h"
#include "tensor/packed_blocks.h"
#include "tensor/repack.h"

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

std::string_view ActFormatName(ActFormat format) {
  switch (format) {
    case ActFormat::kF32: return "f32";
    case ActFormat::kQ8_0: return "q8_0";
    case ActFormat::kQ8_1: return "q8_1";
    case ActFormat::kQ8_K: return "q8_K";
    case ActFormat::kQ8S: return "q8s";
    case ActFormat::kBF16: return "bf16";
  }
  return "?";
}

std::optional<DType> ActFormatDType(ActFormat format) {
  switch (format) {
    case ActFormat::kF32: return DType::kF32;
    case ActFormat::kQ8_0: return DType::kQ8_0;
    case ActFormat::kQ8_1: return DType::kQ8_1;
    case ActFormat::kQ8_K: return DType::kQ8_K;
    case ActFormat::kQ8S: return std::nullopt;
    case ActFormat::kBF16: return DType::kBF16;
  }
  return std::nullopt;
}

ActFormat PackedActFormat(DType type) {
  return IsPackedKQuant(type) ? ActFormat::kQ8_K : ActFormat::kQ8S;
}

size_t ActFormatRowBytes(ActFormat format, int64_t k) {
  if (format == ActFormat::kQ8S) return static_cast<size_t>(k / kQK8_0) * sizeof(BlockQ8S);
  return *RowBytes(*ActFormatDType(format), k);
}

std::vector<std::string> KernelOverrides(const KernelTable& t, const KernelTable& base) {
  std::vector<std::string> out;
  for (size_t i = 0; i < kNumDTypeSlots; ++i) {
    const auto type = GetDTypeTraits(static_cast<uint32_t>(i));
    const std::string name = type ? std::string(type->name) : std::to_string(i);
    if (t.weights[i].vec_dot != base.weights[i].vec_dot) out.push_back("vec_dot " + name);
    if (t.weights[i].vec_dot4 != base.weights[i].vec_dot4) out.push_back("vec_dot4 " + name);
    if (t.packed_gemm[i] != base.packed_gemm[i]) out.push_back("packed_gemm " + name);
    if (t.row_axpy[i] != base.row_axpy[i]) out.push_back("row_axpy " + name);
  }
  for (size_t i = 0; i < kNumActFormats; ++i) {
    if (t.quantize[i] != base.quantize[i]) {
      out.push_back("quantize " + std::string(ActFormatName(static_cast<ActFormat>(i))));
    }
  }
  auto helper = [&](const char* name, bool differs) {
    if (differs) out.push_back(name);
  };
  helper("dot_f32", t.dot_f32 != base.dot_f32);
  helper("axpy_f32", t.axpy_f32 != base.axpy_f32);
  helper("dot_f32_bf16", t.dot_f32_bf16 != base.dot_f32_bf16);
  helper("axpy_bf16", t.axpy_bf16 != base.axpy_bf16);
  helper("bf16_to_f32", t.bf16_to_f32 != base.bf16_to_f32);
  helper("sgemm", t.sgemm != base.sgemm);
  helper("sgemm_nt", t.sgemm_nt != base.sgemm_nt);
  helper("exp_sum", t.exp_sum != base.exp_sum);
  helper("silu_mul", t.silu_mul != base.silu_mul);
  return out;
}

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
