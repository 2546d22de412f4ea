// The scalar table: every weight type tokenfab computes with.
#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kernels/reference/reference_kernels.h"
#include "tensor/quantize.h"
#include "tensor/repack.h"

namespace tf {
namespace reference {

void QuantizeQ8_0(const float* x, void* y, int64_t n) { QuantizeRow(DType::kQ8_0, x, y, n); }
void QuantizeQ8_1(const float* x, void* y, int64_t n) { QuantizeRow(DType::kQ8_1, x, y, n); }
void QuantizeQ8_K(const float* x, void* y, int64_t n) { QuantizeRow(DType::kQ8_K, x, y, n); }
void QuantizeBF16(const float* x, void* y, int64_t n) { QuantizeRow(DType::kBF16, x, y, n); }

}  // namespace reference

void FillScalarKernels(KernelTable* t) {
  auto set = [t](DType w, ActFormat act, VecDotFn fn) { t->weights[static_cast<size_t>(w)] = {act, fn}; };
  set(DType::kF32, ActFormat::kF32, reference::DotF32);
  set(DType::kF16, ActFormat::kF32, reference::DotF16);
  set(DType::kBF16, ActFormat::kF32, reference::DotBF16);
  set(DType::kQ4_0, ActFormat::kQ8_0, reference::DotQ4_0);
  set(DType::kQ4_1, ActFormat::kQ8_1, reference::DotQ4_1);
  set(DType::kQ5_0, ActFormat::kQ8_0, reference::DotQ5_0);
  set(DType::kQ5_1, ActFormat::kQ8_1, reference::DotQ5_1);
  set(DType::kQ8_0, ActFormat::kQ8_0, reference::DotQ8_0);
  set(DType::kQ4_K, ActFormat::kQ8_K, reference::DotQ4_K);
  set(DType::kQ5_K, ActFormat::kQ8_K, reference::DotQ5_K);
  set(DType::kQ6_K, ActFormat::kQ8_K, reference::DotQ6_K);
  auto axpy = [t](DType w, RowAxpyFn fn) { t->row_axpy[static_cast<size_t>(w)] = fn; };
  axpy(DType::kF32, reference::RowAxpy<DType::kF32>);
  axpy(DType::kF16, reference::RowAxpy<DType::kF16>);
  axpy(DType::kBF16, reference::RowAxpy<DType::kBF16>);
  axpy(DType::kQ4_0, reference::RowAxpy<DType::kQ4_0>);
  axpy(DType::kQ4_1, reference::RowAxpy<DType::kQ4_1>);
  axpy(DType::kQ5_0, reference::RowAxpy<DType::kQ5_0>);
  axpy(DType::kQ5_1, reference::RowAxpy<DType::kQ5_1>);
  axpy(DType::kQ8_0, reference::RowAxpy<DType::kQ8_0>);
  axpy(DType::kQ4_K, reference::RowAxpy<DType::kQ4_K>);
  axpy(DType::kQ5_K, reference::RowAxpy<DType::kQ5_K>);
  axpy(DType::kQ6_K, reference::RowAxpy<DType::kQ6_K>);
  t->quantize[static_cast<size_t>(ActFormat::kQ8_0)] = reference::QuantizeQ8_0;
  t->quantize[static_cast<size_t>(ActFormat::kQ8_1)] = reference::QuantizeQ8_1;
  t->quantize[static_cast<size_t>(ActFormat::kQ8_K)] = reference::QuantizeQ8_K;
  t->quantize[static_cast<size_t>(ActFormat::kQ8S)] = QuantizeRowQ8S;
  t->quantize[static_cast<size_t>(ActFormat::kBF16)] = reference::QuantizeBF16;
  t->packed_gemm[static_cast<size_t>(DType::kQ4_0)] = reference::GemmQ4_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ8_0)] = reference::GemmQ8_0x8;
  t->packed_gemm[static_cast<size_t>(DType::kQ4_K)] = reference::GemmQ4_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ5_K)] = reference::GemmQ5_Kx8;
  t->packed_gemm[static_cast<size_t>(DType::kQ6_K)] = reference::GemmQ6_Kx8;
  t->sgemm = reference::Sgemm;
  t->sgemm_nt = reference::SgemmNT;
  t->exp_sum = reference::ExpSum;
  t->silu_mul = SiluMul;
  t->dot_f32 = reference::DotF32Plain;
  t->axpy_f32 = reference::AxpyF32;
  t->dot_f32_bf16 = reference::DotF32Bf16;
  t->axpy_bf16 = reference::AxpyBf16;
  t->bf16_to_f32 = reference::Bf16ToF32;
}

}  // namespace tf
