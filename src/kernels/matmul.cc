#include "kernels/matmul.h"

#include <algorithm>
#include <atomic>

#include "base/check.h"
#include "kernels/ops.h"

namespace tf {
namespace {

constexpr int64_t kUnitRows = 8;     // rows are dealt in whole packed groups
constexpr int64_t kTokenChunk = 32;  // tokens whose activations stay in L2 together
constexpr int64_t kTokenTile = 16;   // tokens per weight row in the unpacked path
constexpr int kChunksPerThread = 4;  // enough chunks that threads end together
constexpr size_t kChunkBytes = 256 << 10;  // weights per chunk when tokens reuse them

// A weight ready to compute: its kernel and its activations.
struct PreparedWeight {
  const TensorView* w = nullptr;
  PackedGemmFn packed_gemm = nullptr;  // set when the packed form is used
  VecDotFn vec_dot = nullptr;
  VecDot4Fn vec_dot4 = nullptr;
  decltype(KernelTable::sgemm_nt) sgemm_nt = nullptr;
  const uint8_t* act = nullptr;
  size_t act_stride = 0;
};

// Activations of `x` in `format`, converted at most once per call (slots
// are released by BeginCall).
const uint8_t* ActivationsIn(const KernelTable& kernels, ActFormat format, const float* x, int64_t n_tokens,
                             int64_t k, MatmulScratch* scratch, ThreadPool* pool, size_t* stride) {
  *stride = ActFormatRowBytes(format, k);
  if (format == ActFormat::kF32) return reinterpret_cast<const uint8_t*>(x);
  for (size_t i = 0; i < scratch->act_used; ++i) {
    if (scratch->act[i].x == x && scratch->act[i].format == format) return scratch->act[i].bytes.data();
  }
  if (scratch->act_used == scratch->act.size()) scratch->act.emplace_back();
  MatmulScratch::Activations& slot = scratch->act[scratch->act_used++];
  slot.x = x;
  slot.format = format;
  slot.bytes.resize(*stride * static_cast<size_t>(n_tokens));
  const QuantizeRowFn quantize = kernels.Quantizer(format);
  uint8_t* out = slot.bytes.data();
  const size_t row = *stride;
  pool->ParallelFor(n_tokens, 8, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) quantize(x + t * k, out + t * row, k);
  });
  return out;
}

PreparedWeight Prepare(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens,
                       MatmulScratch* scratch, ThreadPool* pool) {
  PreparedWeight p;
  p.w = &w;
  const WeightKernel& wk = kernels.ForWeight(w.type);
  TF_CHECK(wk.vec_dot != nullptr) << "no kernel for weight type " << DTypeName(w.type);
  p.vec_dot = wk.vec_dot;
  p.vec_dot4 = wk.vec_dot4;
  p.sgemm_nt = kernels.sgemm_nt;
  if (n_tokens <= 0) return p;
  const PackedGemmFn packed = kernels.PackedGemm(w.type);
  ActFormat format = wk.act;
  if (w.packed != nullptr && packed != nullptr && kernels.Quantizer(PackedActFormat(w.type)) != nullptr) {
    p.packed_gemm = packed;
    format = PackedActFormat(w.type);
  }
  p.act = ActivationsIn(kernels, format, x, n_tokens, w.ne[0], scratch, pool, &p.act_stride);
  return p;
}

void BeginCall(MatmulScratch* scratch) { scratch->act_used = 0; }

// Rows [r0, r1) x tokens [t0, t1) into y, which points at (t0, r0) and has
// rows y_stride floats apart.
void ComputeRows(const PreparedWeight& p, int64_t r0, int64_t r1, int64_t t0, int64_t t1, float* y,
                 int64_t y_stride) {
  const TensorView& w = *p.w;
  const int64_t k = w.ne[0];
  const size_t w_row_bytes = w.row_bytes();
  const uint8_t* act = p.act + static_cast<size_t>(t0) * p.act_stride;
  if (p.packed_gemm != nullptr && r0 % kUnitRows == 0 && r1 % kUnitRows == 0) {
    p.packed_gemm(k, w.packed + static_cast<size_t>(r0) * w_row_bytes, (r1 - r0) / kUnitRows, act, p.act_stride,
                  t1 - t0, y, y_stride);
    return;
  }
  if (w.type == DType::kF32 && p.sgemm_nt != nullptr) {
    // Float weights against float tokens: y[t][r] = x_t . w_r, a tiled
    // product; one token too, so a token's result never depends on how
    // many share the call.
    const auto* x = reinterpret_cast<const float*>(act);
    const auto* w_rows = reinterpret_cast<const float*>(w.data) + r0 * k;
    p.sgemm_nt(t1 - t0, r1 - r0, k, x, k, w_rows, k, y, y_stride);
    return;
  }
  for (int64_t tt = 0; tt < t1 - t0; tt += kTokenTile) {
    const int64_t tt_end = std::min(t1 - t0, tt + kTokenTile);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* w_row = w.data + static_cast<size_t>(r) * w_row_bytes;
      int64_t t = tt;
      if (p.vec_dot4 != nullptr) {
        for (; t + 4 <= tt_end; t += 4) {
          float out[4];
          p.vec_dot4(k, w_row, act + static_cast<size_t>(t) * p.act_stride, p.act_stride, out);
          for (int i = 0; i < 4; ++i) y[(t + i) * y_stride + (r - r0)] = out[i];
        }
      }
      for (; t < tt_end; ++t) {
        y[t * y_stride + (r - r0)] = p.vec_dot(k, w_row, act + static_cast<size_t>(t) * p.act_stride);
      }
    }
  }
}

struct RowChunk {
  int job;
  int64_t r0, r1;
};

// Splits every job's rows into chunks of whole units, about
// kChunksPerThread per thread overall; with several tokens, also small
// enough (kChunkBytes) that a chunk's weights stay in L2 while every token
// chunk passes over them.
std::vector<RowChunk> MakeChunks(std::span<const int64_t> rows_per_job, size_t unit_bytes, int64_t n_tokens,
                                 int num_threads) {
  int64_t total_units = 0;
  for (int64_t rows : rows_per_job) total_units += (rows + kUnitRows - 1) / kUnitRows;
  int64_t chunk_units = std::max<int64_t>(1, total_units / (num_threads * kChunksPerThread));
  if (n_tokens > 1) chunk_units = std::clamp<int64_t>(kChunkBytes / std::max<size_t>(unit_bytes, 1), 1, chunk_units);
  std::vector<RowChunk> chunks;
  for (size_t j = 0; j < rows_per_job.size(); ++j) {
    for (int64_t r0 = 0; r0 < rows_per_job[j]; r0 += chunk_units * kUnitRows) {
      chunks.push_back({static_cast<int>(j), r0, std::min(rows_per_job[j], r0 + chunk_units * kUnitRows)});
    }
  }
  return chunks;
}

// Calls fn(thread_index, chunk) for every chunk; threads claim chunks in order.
template <typename Fn>
void ForEachChunk(const std::vector<RowChunk>& chunks, ThreadPool* pool, Fn&& fn) {
  std::atomic<size_t> next{0};
  auto work = [&](int thread_index) {
    for (size_t c = next.fetch_add(1); c < chunks.size(); c = next.fetch_add(1)) fn(thread_index, chunks[c]);
  };
  if (chunks.size() <= 1) {
    work(0);
  } else {
    pool->Run(work);
  }
}

}  // namespace

bool MatMulSupports(const KernelTable& kernels, DType type) {
  const WeightKernel& wk = kernels.ForWeight(type);
  if (wk.vec_dot == nullptr) return false;
  return wk.act == ActFormat::kF32 || kernels.Quantizer(wk.act) != nullptr;
}

void MatMul(const KernelTable& kernels, const TensorView& w, const float* x, int64_t n_tokens, float* y,
            int64_t y_stride, MatmulScratch* scratch, ThreadPool* pool) {
  const MatMulJob job{w, y, y_stride};
  MatMulMany(kernels, std::span<const MatMulJob>(&job, 1), x, n_tokens, scratch, pool);
}

void MatMulMany(const KernelTable& kernels, std::span<const MatMulJob> jobs, const float* x, int64_t n_tokens,
                MatmulScratch* scratch, ThreadPool* pool) {
  if (jobs.empty()) return;
  BeginCall(scratch);
  std::vector<PreparedWeight> prepared;
  std::vector<int64_t> rows, tokens;
  int64_t max_tokens = 0;
  for (const MatMulJob& job : jobs) {
    const float* input = job.x != nullptr ? job.x : x;
    const int64_t n = job.x != nullptr ? job.n_tokens : n_tokens;
    prepared.push_back(Prepare(kernels, job.w, input, n, scratch, pool));
    rows.push_back(n > 0 ? job.w.ne[1] : 0);
    tokens.push_back(n);
    max_tokens = std::max(max_tokens, n);
  }
  if (max_tokens <= 0) return;
  const size_t unit_bytes = jobs[0].w.row_bytes() * kUnitRows;
  const std::vector<RowChunk> chunks = MakeChunks(rows, unit_bytes, max_tokens, pool->num_threads());
  ForEachChunk(chunks, pool, [&](int, const RowChunk& c) {
    const MatMulJob& job = jobs[c.job];
    for (int64_t t0 = 0; t0 < tokens[c.job]; t0 += kTokenChunk) {
      const int64_t t1 = std::min(tokens[c.job], t0 + kTokenChunk);
      ComputeRows(prepared[c.job], c.r0, c.r1, t0, t1, job.y + t0 * job.y_stride + c.r0, job.y_stride);
    }
  });
}

void MatMulSiluGate(const KernelTable& kernels, const TensorView& gate, const TensorView& up, const float* x,
                    int64_t n_tokens, float* out, int64_t out_stride, MatmulScratch* scratch, ThreadPool* pool) {
  const GatedJob job{gate, up, x, n_tokens, out, out_stride};
  MatMulSiluGateMany(kernels, std::span<const GatedJob>(&job, 1), scratch, pool);
}

void MatMulSiluGateMany(const KernelTable& kernels, std::span<const GatedJob> jobs, MatmulScratch* scratch,
                        ThreadPool* pool) {
  if (jobs.empty()) return;
  BeginCall(scratch);
  std::vector<PreparedWeight> gates, ups;
  std::vector<int64_t> rows;
  int64_t max_tokens = 0;
  for (const GatedJob& job : jobs) {
    TF_CHECK(job.gate.ne[0] == job.up.ne[0] && job.gate.ne[1] == job.up.ne[1])
        << "MatMulSiluGate: gate and up differ in shape";
    gates.push_back(Prepare(kernels, job.gate, job.x, job.n_tokens, scratch, pool));
    ups.push_back(Prepare(kernels, job.up, job.x, job.n_tokens, scratch, pool));
    rows.push_back(job.n_tokens > 0 ? job.gate.ne[1] : 0);
    max_tokens = std::max(max_tokens, job.n_tokens);
  }
  if (max_tokens <= 0) return;
  // Gate and up rows are computed together, so a chunk holds twice the bytes.
  const size_t unit_bytes = 2 * jobs[0].gate.row_bytes() * kUnitRows;
  const std::vector<RowChunk> chunks = MakeChunks(rows, unit_bytes, max_tokens, pool->num_threads());
  int64_t max_rows = 0;
  for (const RowChunk& c : chunks) max_rows = std::max(max_rows, c.r1 - c.r0);
  scratch->tiles.resize(static_cast<size_t>(pool->num_threads()));
  for (auto& tile : scratch->tiles) tile.resize(static_cast<size_t>(2 * kTokenChunk * max_rows));
  ForEachChunk(chunks, pool, [&](int thread_index, const RowChunk& c) {
    const GatedJob& job = jobs[c.job];
    const int64_t width = c.r1 - c.r0;
    float* g = scratch->tiles[thread_index].data();
    float* u = g + kTokenChunk * width;
    for (int64_t t0 = 0; t0 < job.n_tokens; t0 += kTokenChunk) {
      const int64_t t1 = std::min(job.n_tokens, t0 + kTokenChunk);
      ComputeRows(gates[c.job], c.r0, c.r1, t0, t1, g, width);
      ComputeRows(ups[c.job], c.r0, c.r1, t0, t1, u, width);
      for (int64_t t = t0; t < t1; ++t) {
        kernels.silu_mul(g + (t - t0) * width, u + (t - t0) * width, width, job.out + t * job.out_stride + c.r0);
      }
    }
  });
}

}  // namespace tf
