#include "kernels/avx512/avx512_kernels.h"

#include "base/cpu_features.h"
#include "kernels/kernel_table.h"

namespace tf {

#if defined(TF_EMULATE_AVX512)
void FillAvx512KernelsEmulated(KernelTable* t) {
  namespace avx512 = TF_AVX512_NS;
#else
void FillAvx512Kernels(KernelTable* t) {
#endif
  auto set = [t](DType w, VecDotFn fn) { t->weights[static_cast<size_t>(w)].vec_dot = fn; };
  set(DType::kF32, avx512::DotF32);
  set(DType::kF16, avx512::DotF16);
  set(DType::kBF16, avx512::DotBF16);
  set(DType::kQ4_0, avx512::DotQ4_0);
  set(DType::kQ8_0, avx512::DotQ8_0);
  t->packed_gemm[static_cast<size_t>(DType::kQ4_0)] = avx512::GemmQ4_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ8_0)] = avx512::GemmQ8_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ4_K)] = avx512::GemmQ4_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ5_K)] = avx512::GemmQ5_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ6_K)] = avx512::GemmQ6_Kx8;
  t->sgemm = avx512::Sgemm;
  t->sgemm_nt = avx512::SgemmNT;
  t->dot_f32 = avx512::DotF32Plain;
  t->axpy_f32 = avx512::AxpyF32;
  t->bf16_to_f32 = avx512::Bf16ToF32;
#if defined(TF_EMULATE_AVX512)
  const bool has_bf16_pairs = true;
#else
  const bool has_bf16_pairs = GetCpuFeatures().avx512bf16;  // not every AVX-512 CPU has it (Ice Lake lacks it)
#endif
  if (has_bf16_pairs) t->weights[static_cast<size_t>(DType::kBF16)] = {ActFormat::kBF16, avx512::DotBF16Pairs, nullptr};
}

}  // namespace tf
