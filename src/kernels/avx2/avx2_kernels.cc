#include "kernels/avx2/avx2_kernels.h"

#include "kernels/kernel_table.h"

namespace tf {

void FillAvx2Kernels(KernelTable* t) {
  auto set = [t](DType w, VecDotFn fn) { t->weights[static_cast<size_t>(w)].vec_dot = fn; };
  set(DType::kF32, avx2::DotF32);
  set(DType::kF16, avx2::DotF16);
  set(DType::kBF16, avx2::DotBF16);
  set(DType::kQ4_0, avx2::DotQ4_0);
  set(DType::kQ8_0, avx2::DotQ8_0);
  set(DType::kQ4_K, avx2::DotQ4_K);
  set(DType::kQ5_K, avx2::DotQ5_K);
  set(DType::kQ6_K, avx2::DotQ6_K);
  t->weights[static_cast<size_t>(DType::kQ6_K)].vec_dot4 = avx2::DotQ6_Kx4;
  t->packed_gemm[static_cast<size_t>(DType::kQ4_0)] = avx2::GemmQ4_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ8_0)] = avx2::GemmQ8_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ4_K)] = avx2::GemmQ4_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ5_K)] = avx2::GemmQ5_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ6_K)] = avx2::GemmQ6_Kx8;
  t->row_axpy[static_cast<size_t>(DType::kQ4_0)] = avx2::RowAxpyQ4_0;
  t->row_axpy[static_cast<size_t>(DType::kQ8_0)] = avx2::RowAxpyQ8_0;
  t->row_axpy[static_cast<size_t>(DType::kF32)] = avx2::RowAxpyF32;
  t->quantize[static_cast<size_t>(ActFormat::kQ8S)] = avx2::QuantizeQ8S;
  t->quantize[static_cast<size_t>(ActFormat::kQ8_K)] = avx2::QuantizeQ8_K;
  t->sgemm = avx2::Sgemm;
  t->sgemm_nt = avx2::SgemmNT;
  t->exp_sum = avx2::ExpSum;
  t->silu_mul = avx2::SiluMul;
  t->dot_f32 = avx2::DotF32Plain;
  t->axpy_f32 = avx2::AxpyF32;
  t->dot_f32_bf16 = avx2::DotF32Bf16;
  t->axpy_bf16 = avx2::AxpyBf16;
  t->bf16_to_f32 = avx2::Bf16ToF32;
}

}  // namespace tf
