// Attention over a long KV cache alone, the way decode reads it: one query
// token per sequence against `context` cached positions in every layer, a
// float32 and a bf16 cache, for two shapes:
//   gqa: tinyllama-1.1b (22 layers, 32 query heads over 4 KV heads of 64)
//   mla: deepseek-v2-lite (27 layers, 16 heads over one 512 + 64 latent row)
// Reported as KV bytes read per second against a two-thread streaming read
// of a buffer as large as the cache (the same probe `tokenfab bench` uses
// for its bandwidth roofline), and as multiply-adds per second against the
// fp32 FMA probe on the same threads: with many query heads per KV row
// (8 for tinyllama's GQA, 16 for MLA's shared latent) decode attention does
// 2-8 multiply-adds per cached byte, so on a machine with few cores it can
// be bound by the FMA units rather than by memory.
//   build/bench/tf_attention_bench [context [threads]]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/kernel_table.h"
#include "kernels/mla_attention.h"
#include "perf/machine_limits.h"
#include "tensor/kv_storage.h"
#include "tensor/kv_view.h"

namespace tf {
namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A cache of `context` positions in every layer, blocks of 16 in order.
struct Cache {
  std::unique_ptr<KvStorage> storage;
  std::vector<int32_t> table;
};

Cache MakeCache(const KvLayout& layout, DType type, int64_t context) {
  constexpr int kBlock = 16;
  Cache c;
  const int64_t blocks = (context + kBlock - 1) / kBlock;
  c.storage = std::move(*KvStorage::Create(layout, type, kBlock, blocks));
  c.table.resize(static_cast<size_t>(blocks));
  std::iota(c.table.begin(), c.table.end(), 0);
  const std::vector<float> key = Random(layout.k_row, 1), value = Random(std::max<int64_t>(layout.v_row, 1), 2);
  for (int layer = 0; layer < layout.n_layer; ++layer) {
    for (int64_t p = 0; p < context; ++p) {
      c.storage->StoreKey(layer, c.table[p / kBlock], static_cast<int>(p % kBlock), key.data());
      if (layout.v_row > 0) c.storage->StoreValue(layer, c.table[p / kBlock], static_cast<int>(p % kBlock), value.data());
    }
  }
  return c;
}

// Best of 5 decode steps (every layer once), seconds.
template <typename Step>
double TimeStep(Step&& step) {
  double best = 1e30;
  for (int round = 0; round < 6; ++round) {
    const double t0 = Seconds();
    step();
    if (round > 0) best = std::min(best, Seconds() - t0);
  }
  return best;
}

// macs: multiply-adds of the step (scores and value sums).
void Report(const char* shape, DType type, const KvStorage& storage, double macs, double seconds,
            const MachineLimits& limits) {
  const double bytes = static_cast<double>(storage.bytes());
  const double flops = 2.0 * macs / seconds;
  std::printf("  %-3s %-4s KV %7.1f MB: %8.3f ms per decode step, %5.1f GB/s (%4.1f%% of the read probe), "
              "%5.1f GFLOPS (%4.1f%% of the fp32 probe)\n",
              shape, std::string(DTypeName(type)).c_str(), bytes * 1e-6, seconds * 1e3, bytes / seconds * 1e-9,
              100.0 * bytes / seconds / (limits.bw_gbs * 1e9), flops * 1e-9, 100.0 * flops / (limits.fp32_gflops * 1e9));
}

void RunGqa(const KernelTable& kernels, DType type, int64_t context, const MachineLimits& limits, ThreadPool* pool) {
  const KvLayout layout{22, 4 * 64, 4 * 64, 4};
  const Cache cache = MakeCache(layout, type, context);
  const AttentionShape shape{32, 4, 64, 64, 32 * 64, 32 * 64, 0.125f};
  const std::vector<float> q = Random(32 * 64, 3);
  std::vector<float> out(32 * 64);
  const double seconds = TimeStep([&] {
    for (int layer = 0; layer < layout.n_layer; ++layer) {
      const AttentionSeq seq{q.data(), 1, context - 1, KvView(cache.storage.get(), layer, cache.table), out.data()};
      CausalAttention(kernels, shape, std::span<const AttentionSeq>(&seq, 1), pool);
    }
  });
  const double macs = static_cast<double>(layout.n_layer) * static_cast<double>(context) * 32 * (64 + 64);
  Report("gqa", type, *cache.storage, macs, seconds, limits);
}

void RunMla(const KernelTable& kernels, DType type, int64_t context, const MachineLimits& limits, ThreadPool* pool) {
  constexpr int kHeads = 16, kLora = 512, kRot = 64;
  const KvLayout layout{27, kLora + kRot, 0, 1};
  const Cache cache = MakeCache(layout, type, context);
  MlaShape shape;
  shape.n_head = kHeads;
  shape.kv_lora = kLora;
  shape.n_rot = kRot;
  shape.scale = 0.07f;
  shape.q_rope_token_stride = kHeads * kRot;
  shape.q_rope_head_stride = kRot;
  shape.latent_head_stride = kLora;
  const std::vector<float> q_latent = Random(kHeads * kLora, 4), q_rope = Random(kHeads * kRot, 5);
  std::vector<float> out(kHeads * kLora);
  const double seconds = TimeStep([&] {
    for (int layer = 0; layer < layout.n_layer; ++layer) {
      const MlaSeq seq{q_latent.data(), q_rope.data(), 1, context - 1,
                       KvView(cache.storage.get(), layer, cache.table), out.data()};
      MlaAttention(kernels, shape, std::span<const MlaSeq>(&seq, 1), pool);
    }
  });
  const double macs = static_cast<double>(layout.n_layer) * static_cast<double>(context) * kHeads * (kLora + kRot + kLora);
  Report("mla", type, *cache.storage, macs, seconds, limits);
}

}  // namespace
}  // namespace tf

int main(int argc, char** argv) {
  const int64_t context = argc > 1 ? std::atoll(argv[1]) : 16384;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  if (context <= 0 || context > (1 << 20) || threads <= 0 || threads > 256) {
    std::fprintf(stderr, "usage: tf_attention_bench [context (1..1048576) [threads]]\n");
    return 2;
  }
  tf::ThreadPool pool(threads);
  const tf::Isa isa = tf::BestIsa();
  const tf::KernelTable& kernels = tf::GetKernelTable(isa);
  // As large as the largest cache below (V2-Lite's, f32), so it streams from DRAM too.
  const size_t probe_bytes = static_cast<size_t>(context) * 27 * 576 * 4;
  const tf::StatusOr<tf::MachineLimits> measured = tf::MeasureMachineLimits(isa, &pool, probe_bytes);
  if (!measured.ok()) {
    std::fprintf(stderr, "%s\n", measured.status().ToString().c_str());
    return 1;
  }
  std::printf("%s, %d threads, context %lld: read probe %.1f GB/s, fp32 probe %.1f GFLOPS\n",
              std::string(tf::IsaName(isa)).c_str(), threads, static_cast<long long>(context),
              measured->bw_gbs, measured->fp32_gflops);
  for (tf::DType type : {tf::DType::kF32, tf::DType::kBF16}) {
    tf::RunGqa(kernels, type, context, *measured, &pool);
    tf::RunMla(kernels, type, context, *measured, &pool);
  }
  return 0;
}
