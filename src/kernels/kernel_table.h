// The one place kernels are chosen. A KernelTable holds, for one instruction
// set, the dot product for every weight type (with the activation format it
// expects), activation quantizers and float helpers. Tables are built once;
// the best one for this CPU is picked at start-up (visible in `tokenfab
// info`), and tests run every compiled table against the scalar reference.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/dtype.h"

namespace tf {

enum class Isa { kScalar, kAvx2, kAvx512 };
std::string_view IsaName(Isa isa);

// The form a kernel reads activations in: float32 rows, rows of one of
// the 8-bit block types (the dot products' partners: Q8_0, Q8_1, Q8_K), or
// BlockQ8S rows for the packed kernels (tensor/packed_blocks.h), or bf16
// rows (the partner of bf16 weights where the CPU multiplies bf16 pairs).
enum class ActFormat : uint8_t { kF32, kQ8_0, kQ8_1, kQ8_K, kQ8S, kBF16 };
inline constexpr size_t kNumActFormats = 6;
std::string_view ActFormatName(ActFormat format);
// The GGUF block type of a format; nullopt for BlockQ8S, which no file holds.
std::optional<DType> ActFormatDType(ActFormat format);
// The activations a packed matrix kernel of this weight type reads: BlockQ8S
// for the 32-weight block types, Q8_K (with its 16-weight sums) for the
// K-quants.
ActFormat PackedActFormat(DType type);
// Bytes of one row of k activations (k a multiple of 32 for the 8-bit formats).
size_t ActFormatRowBytes(ActFormat format, int64_t k);

// out = sum_k w[k] * x[k] over n elements; w is one weight row of the
// table's weight type, x one activation row in `act` format.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// Quantizes n floats into an activation format.
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);

// out[t] = dot(w, x_t) for 4 activation rows x_t = x + t * x_stride bytes:
// one unpacking of the weight row serves four tokens (batched decode, the
// output head of a batch).
using VecDot4Fn = void (*)(int64_t n, const void* w, const void* x, size_t x_stride, float* out);

struct WeightKernel {
  ActFormat act = ActFormat::kF32;  // format the activations must be in
  VecDotFn vec_dot = nullptr;    // nullptr: weight type not supported
  VecDot4Fn vec_dot4 = nullptr;  // optional
};

// Matrix kernel over packed weights (tensor/packed_blocks.h): for each of
// n_groups consecutive 8-row groups of a [rows x k] matrix starting at `w`
// and each of n_tokens activation rows in PackedActFormat (act_stride bytes
// apart),
// writes y[t * y_stride + 8 * group + r].
using PackedGemmFn = void (*)(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act,
                              size_t act_stride, int64_t n_tokens, float* y, int64_t y_stride);

// y_t[i] += a[t * a_stride] * w[i] for i < k, t < n, y_t = y + t * y_stride:
// one weight row (of the table's weight type) added into n output rows,
// unpacked once for all of them. W^T x built a row of W at a time: MLA's
// absorbed key up-projection at decode reads the file's quantized kv_b rows
// so instead of a float32 transposed copy.
using RowAxpyFn = void (*)(int64_t k, const void* w, const float* a, int64_t a_stride, int64_t n, float* y,
                           int64_t y_stride);

inline constexpr size_t kNumDTypeSlots = 40;  // > largest DType id

struct KernelTable {
  Isa isa = Isa::kScalar;
  std::array<WeightKernel, kNumDTypeSlots> weights{};
  // By activation format (none for kF32, which needs no conversion).
  std::array<QuantizeRowFn, kNumActFormats> quantize{};
  // By original weight type; nullptr where the type has no packed form.
  std::array<PackedGemmFn, kNumDTypeSlots> packed_gemm{};
  // By weight type; nullptr where the type cannot be dequantized.
  std::array<RowAxpyFn, kNumDTypeSlots> row_axpy{};
  float (*dot_f32)(int64_t n, const float* a, const float* b) = nullptr;
  // y[i] += a * x[i]
  void (*axpy_f32)(int64_t n, float a, const float* x, float* y) = nullptr;
  // The same against bf16 rows (a bf16 KV cache).
  float (*dot_f32_bf16)(int64_t n, const float* a, const uint16_t* b) = nullptr;
  void (*axpy_bf16)(int64_t n, float a, const uint16_t* x, float* y) = nullptr;
  // y[i] = x[i] widened to float32 (exact): staging a bf16 KV cache's rows
  // for attention's float GEMMs.
  void (*bf16_to_f32)(int64_t n, const uint16_t* x, float* y) = nullptr;

  // C[m x n] = A[m x k] * B[k x n] (or C += with accumulate), row-major
  // with leading dimensions lda/ldb/ldc: attention's score and value steps.
  void (*sgemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                float* c, int64_t ldc, bool accumulate) = nullptr;
  // C[m x n] = A[m x k] * B[n x k]^T: scores of query rows against key rows.
  void (*sgemm_nt)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc) = nullptr;
  // x[i] = exp(x[i] - shift) (every x[i] <= shift); returns the sum.
  float (*exp_sum)(float* x, int64_t n, float shift) = nullptr;
  // out[i] = silu(gate[i]) * up[i]: the gated feed-forward's activation.
  void (*silu_mul)(const float* gate, const float* up, int64_t n, float* out) = nullptr;

  const WeightKernel& ForWeight(DType type) const { return weights[static_cast<size_t>(type)]; }
  bool SupportsWeight(DType type) const { return ForWeight(type).vec_dot != nullptr; }
  PackedGemmFn PackedGemm(DType type) const { return packed_gemm[static_cast<size_t>(type)]; }
  RowAxpyFn RowAxpy(DType type) const { return row_axpy[static_cast<size_t>(type)]; }
  QuantizeRowFn Quantizer(ActFormat format) const { return quantize[static_cast<size_t>(format)]; }
};

// The entries of `table` that differ from `base` (the table it was built
// on), by name ("vec_dot q4_0", "packed_gemm q8_0", "sgemm", ...): what an
// instruction set really overrides. Shown by `tokenfab info`.
std::vector<std::string> KernelOverrides(const KernelTable& table, const KernelTable& base);

// Instruction sets compiled in and supported by this CPU, scalar first.
std::vector<Isa> AvailableIsas();
// The fastest available (or TF_ISA=scalar|avx2|avx512 from the environment,
// when that one is available).
Isa BestIsa();
// CHECKs that `isa` is available.
const KernelTable& GetKernelTable(Isa isa);

// Fillers implemented by each ISA directory; each overrides what it speeds up.
void FillScalarKernels(KernelTable* table);
void FillAvx2Kernels(KernelTable* table);
void FillAvx512Kernels(KernelTable* table);

}  // namespace tf
