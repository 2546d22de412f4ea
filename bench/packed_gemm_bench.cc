// The packed GEMM kernels alone, one thread: tinyllama's FFN shape
// [5632 x 2048] in Q4_0, Q8_0, Q4_K, Q5_K and Q6_K against 1..64 tokens, on every ISA this
// CPU has, as int8 GOPS and as a share of the same ISA's int8 probe (the
// roofline `tokenfab bench` uses); then one token against unpacked K-quant
// rows (vec_dot row by row, their decode path before they were packed). Run it pinned
// on a quiet core:
//   taskset -c 1 build/bench/tf_packed_gemm_bench [rows k [isa]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "kernels/machine_probes.h"
#include "tensor/quantize.h"
#include "tensor/repack.h"

namespace tf {
namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// `rows` rows of k normal-random weights quantized to `type`, row after row.
std::vector<uint8_t> QuantizedRandom(DType type, int64_t k, int64_t rows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> f(k);
  const size_t row_bytes = *RowBytes(type, k);
  std::vector<uint8_t> rows_data(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : f) v = dist(rng);
    QuantizeRow(type, f.data(), rows_data.data() + r * row_bytes, k);
  }
  return rows_data;
}

std::vector<uint8_t> PackedRandom(DType type, int64_t k, int64_t rows) {
  const std::vector<uint8_t> rows_data = QuantizedRandom(type, k, rows);
  std::vector<uint8_t> packed(rows_data.size());
  PackRows(type, rows_data.data(), k, rows, packed.data());
  return packed;
}

// Best of 5 timings of the probe, as ops/s.
double ProbeInt8(const MachineProbes& probes) {
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const double t0 = Seconds();
    const double ops = probes.int8_ops(20'000'000);
    best = std::max(best, ops / (Seconds() - t0));
  }
  return best;
}

// One token against `rows` unpacked rows of `type`, a vec_dot per row.
void RunRowDots(const KernelTable& table, double peak, DType type, int64_t rows, int64_t k) {
  const WeightKernel& wk = table.ForWeight(type);
  const QuantizeRowFn quantize = table.Quantizer(wk.act);
  if (wk.vec_dot == nullptr || quantize == nullptr || k % 256 != 0) return;
  const size_t row_bytes = *RowBytes(type, k);
  const std::vector<uint8_t> w = QuantizedRandom(type, k, rows);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> f(k);
  std::vector<uint8_t> act(ActFormatRowBytes(wk.act, k));
  for (float& v : f) v = dist(rng);
  quantize(f.data(), act.data(), k);
  std::vector<float> y(rows);
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const double t0 = Seconds();
    for (int rep = 0; rep < 8; ++rep) {
      for (int64_t r = 0; r < rows; ++r) y[r] = wk.vec_dot(k, w.data() + r * row_bytes, act.data());
    }
    best = std::min(best, (Seconds() - t0) / 8.0);
  }
  const double ops = 2.0 * static_cast<double>(rows * k) / best;
  std::printf("  %-5s  1 token, rows: %7.1f GOPS (%4.1f%% of probe), weights %5.1f GB/s, %.3f ms\n",
              std::string(DTypeName(type)).c_str(), ops * 1e-9, 100.0 * ops / peak,
              static_cast<double>(w.size()) / best * 1e-9, best * 1e3);
}

void Run(Isa isa, int64_t rows, int64_t k) {
  const KernelTable& table = GetKernelTable(isa);
  const double peak = ProbeInt8(GetMachineProbes(isa));
  std::printf("%s: int8 probe %.1f GOPS (one thread)\n", std::string(IsaName(isa)).c_str(), peak * 1e-9);
  for (DType type : {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    const PackedGemmFn gemm = table.PackedGemm(type);
    if (gemm == nullptr || !CanPack(type, k, rows)) continue;
    const std::vector<uint8_t> w = PackedRandom(type, k, rows);
    const ActFormat format = PackedActFormat(type);
    for (int64_t n_tokens : {1, 4, 8, 16, 64}) {
      const size_t act_stride = ActFormatRowBytes(format, k);
      std::vector<uint8_t> act(act_stride * n_tokens);
      std::vector<float> x(k);
      std::mt19937 rng(3);
      std::normal_distribution<float> dist(0.0f, 1.0f);
      for (int64_t t = 0; t < n_tokens; ++t) {
        for (float& v : x) v = dist(rng);
        table.Quantizer(format)(x.data(), act.data() + t * act_stride, k);
      }
      std::vector<float> y(rows * n_tokens);
      const int64_t reps = std::max<int64_t>(3, 256 / n_tokens);
      double best = 1e30;
      for (int round = 0; round < 5; ++round) {
        const double t0 = Seconds();
        for (int64_t r = 0; r < reps; ++r) gemm(k, w.data(), rows / 8, act.data(), act_stride, n_tokens, y.data(), rows);
        best = std::min(best, (Seconds() - t0) / static_cast<double>(reps));
      }
      const double ops = 2.0 * static_cast<double>(rows * k * n_tokens) / best;
      const double bytes = static_cast<double>(w.size()) / best;
      std::printf("  %-5s %2lld tokens: %7.1f GOPS (%4.1f%% of probe), weights %5.1f GB/s, %.3f ms\n",
                  std::string(DTypeName(type)).c_str(), static_cast<long long>(n_tokens), ops * 1e-9,
                  100.0 * ops / peak, bytes * 1e-9, best * 1e3);
    }
  }
  for (DType type : {DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) RunRowDots(table, peak, type, rows, k);
}

}  // namespace
}  // namespace tf

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 5632;
  const int64_t k = argc > 2 ? std::atoll(argv[2]) : 2048;
  if (rows <= 0 || rows % 8 != 0 || k <= 0 || k % 32 != 0) {
    std::fprintf(stderr, "rows must be a positive multiple of 8 and k of 32\n");
    return 2;
  }
  const std::string only_isa = argc > 3 ? argv[3] : "";  // e.g. "avx512": that ISA alone
  for (tf::Isa isa : tf::AvailableIsas()) {
    if (isa == tf::Isa::kScalar || (!only_isa.empty() && tf::IsaName(isa) != only_isa)) continue;
    tf::Run(isa, rows, k);
  }
  return 0;
}
