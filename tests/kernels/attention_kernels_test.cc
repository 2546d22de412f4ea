// Attention's building blocks on every ISA against the scalar reference:
// the float GEMMs (C = A B, C += A B, C = A B^T) on ragged shapes, and the
// vectorized exp-and-sum; flash, grouped-query and latent (MLA) attention
// over a paged cache with scattered blocks of every size against a naive
// float64 softmax; block export/import.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/flash_attention.h"
#include "kernels/mla_attention.h"
#include "kernels/kernel_tables.h"
#include "kernels/reference/reference_kernels.h"
#include "tensor/float16.h"
#include "tensor/kv_storage.h"
#include "tensor/kv_view.h"

namespace tf {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

class AttentionKernelsTest : public ::testing::TestWithParam<testing::NamedTable> {};

TEST_P(AttentionKernelsTest, SgemmMatchesReference) {
  const KernelTable& kernels = *GetParam().table;
  for (int64_t m : {1, 3, 4, 9}) {
    for (int64_t n : {1, 7, 16, 37}) {
      for (int64_t k : {1, 8, 64, 70}) {
        const int64_t lda = k + 1, ldb = n + 2, ldc = n + 3;
        const std::vector<float> a = Random(m * lda, 1), b = Random(k * ldb, 2), c0 = Random(m * ldc, 3);
        for (bool accumulate : {false, true}) {
          std::vector<float> want = c0, got = c0;
          reference::Sgemm(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc, accumulate);
          kernels.sgemm(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
          for (size_t i = 0; i < want.size(); ++i) {
            // Summation order differs: relative 1e-5 of the magnitude (sqrt(k) terms of size 1).
            ASSERT_NEAR(got[i], want[i], 1e-5f * (std::fabs(want[i]) + k)) << m << "x" << n << "x" << k;
          }
        }
      }
    }
  }
}

// Every table's sgemm gives each element the FMA chain of the AVX2 kernel
// (bit for bit), whatever width it computes in: MLA's absorbed key takes
// sgemm for long steps and row_axpy (the AVX2 chain) for short ones, and a
// token's logits must not depend on which.
// (The scalar table has its own reference sums and is not held to this.)
TEST(AttentionKernelsVectorTest, SgemmIsBitIdenticalToAvx2Sgemm) {
  if (!GetCpuFeatures().HasAvx2Set()) GTEST_SKIP() << "no AVX2: no vector table to compare";
  const KernelTable& avx2 = GetKernelTable(Isa::kAvx2);
  int tables = 0;
  for (const testing::NamedTable& named : testing::TablesToTest()) {
    const KernelTable& kernels = *named.table;
    if (kernels.isa == Isa::kScalar) continue;
    ++tables;
    SCOPED_TRACE(named.name);
    for (int64_t m : {1, 3, 4, 9}) {
      for (int64_t n : {7, 16, 40, 77, 512}) {
        for (int64_t k : {1, 64, 128}) {
          const int64_t lda = k + 1, ldb = n + 2, ldc = n + 3;
          const std::vector<float> a = Random(m * lda, 7), b = Random(k * ldb, 8), c0 = Random(m * ldc, 9);
          for (bool accumulate : {false, true}) {
            std::vector<float> want = c0, got = c0;
            avx2.sgemm(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc, accumulate);
            kernels.sgemm(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate);
            ASSERT_EQ(got, want) << m << "x" << n << "x" << k << " accumulate=" << accumulate;
          }
        }
      }
    }
  }
  EXPECT_GE(tables, 2);  // avx2 and avx512 (native or emulated)
}

TEST_P(AttentionKernelsTest, SgemmNTMatchesReference) {
  const KernelTable& kernels = *GetParam().table;
  for (int64_t m : {1, 2, 5, 8}) {
    for (int64_t n : {1, 3, 4, 64, 65}) {
      for (int64_t k : {8, 64, 576, 5}) {
        const int64_t lda = k + 8, ldb = k + 16, ldc = n + 1;
        const std::vector<float> a = Random(m * lda, 4), b = Random(n * ldb, 5);
        std::vector<float> want(m * ldc, -1.0f), got(m * ldc, -1.0f);
        reference::SgemmNT(m, n, k, a.data(), lda, b.data(), ldb, want.data(), ldc);
        kernels.sgemm_nt(m, n, k, a.data(), lda, b.data(), ldb, got.data(), ldc);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(got[i], want[i], 1e-5f * (std::fabs(want[i]) + k)) << m << "x" << n << "x" << k << " @" << i;
        }
      }
    }
  }
}

// Widening bf16 is exact: every table gives the reference's floats bit for
// bit, odd lengths (the scalar tails) included.
TEST_P(AttentionKernelsTest, Bf16ToF32IsExact) {
  const KernelTable& kernels = *GetParam().table;
  ASSERT_NE(kernels.bf16_to_f32, nullptr);
  const std::vector<float> x = Random(67, 12);
  std::vector<uint16_t> bf(x.size());
  for (size_t i = 0; i < x.size(); ++i) bf[i] = FloatToBf16(x[i]);
  for (int64_t n : {0, 1, 8, 15, 16, 33, 67}) {
    std::vector<float> got(x.size(), -7.0f);
    kernels.bf16_to_f32(n, bf.data(), got.data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], Bf16ToFloat(bf[i])) << "n=" << n << " i=" << i;
    for (size_t i = n; i < got.size(); ++i) ASSERT_EQ(got[i], -7.0f) << "n=" << n << ": wrote past the end";
  }
}

TEST_P(AttentionKernelsTest, ExpSumMatchesStdExp) {
  const KernelTable& kernels = *GetParam().table;
  std::vector<float> x = Random(203, 6);
  for (float& v : x) v *= 30.0f;  // down to far below the max: exercises underflow
  x[17] = -1e30f;                 // a score that underflows completely
  float shift = 0;
  for (float v : x) shift = std::max(shift, v);
  std::vector<float> got = x;
  const float sum = kernels.exp_sum(got.data(), static_cast<int64_t>(got.size()), shift);
  double want_sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i] - shift));  // the argument as float, as specified
    want_sum += want;
    // The polynomial is good to a few float ulps; results below e^-87 are 0.
    ASSERT_NEAR(got[i], want, 1e-6 * want + 1e-37) << i << " x=" << x[i];
  }
  EXPECT_NEAR(sum, want_sum, 1e-5 * want_sum);
}

// A paged cache filled with random rows: `n_seqs` sequences of `n_pos`
// positions, each with its own block table whose blocks are scattered over
// the pool in a shuffled order, and the rows read back as float (bf16
// rounding included) for the naive reference.
struct PagedCache {
  std::unique_ptr<KvStorage> storage;
  std::vector<std::vector<int32_t>> tables;
  std::vector<std::vector<float>> keys, values;  // [seq][pos][k_row], [seq][pos][v_row]

  PagedCache(const KvLayout& layout, DType type, int block_size, int n_seqs, int64_t n_pos, uint32_t seed) {
    const int64_t per_seq = (n_pos + block_size - 1) / block_size;
    storage = std::move(*KvStorage::Create(layout, type, block_size, per_seq * n_seqs + 3));
    std::vector<int32_t> ids(static_cast<size_t>(storage->num_blocks()));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    for (int q = 0; q < n_seqs; ++q) {
      tables.emplace_back(ids.begin() + q * per_seq, ids.begin() + (q + 1) * per_seq);
      keys.push_back(Random(n_pos * layout.k_row, seed + 10 * q + 1));
      values.push_back(Random(n_pos * std::max<int64_t>(layout.v_row, 1), seed + 10 * q + 2));
      for (int64_t p = 0; p < n_pos; ++p) {
        for (int layer = 0; layer < layout.n_layer; ++layer) {
          const int32_t block = tables[q][p / block_size];
          storage->StoreKey(layer, block, static_cast<int>(p % block_size), keys[q].data() + p * layout.k_row);
          storage->StoreValue(layer, block, static_cast<int>(p % block_size), values[q].data() + p * layout.v_row);
        }
      }
      if (type == DType::kBF16) {
        for (float& v : keys[q]) v = Bf16ToFloat(FloatToBf16(v));
        for (float& v : values[q]) v = Bf16ToFloat(FloatToBf16(v));
      }
    }
  }
  KvView View(int seq, int layer) const { return KvView(storage.get(), layer, tables[seq]); }
};

// softmax(scale * q . k_p, p <= last) . v_p in float64; k/v rows `stride`
// floats apart, starting `offset` floats in.
std::vector<double> NaiveAttention(const float* q, int dim_qk, int dim_v, int64_t last, const std::vector<float>& keys,
                                   int64_t k_stride, int64_t k_offset, const std::vector<float>& values,
                                   int64_t v_stride, int64_t v_offset, float scale) {
  std::vector<double> w(last + 1);
  double max = -1e300, total = 0;
  for (int64_t p = 0; p <= last; ++p) {
    double dot = 0;
    for (int d = 0; d < dim_qk; ++d) dot += double(q[d]) * keys[p * k_stride + k_offset + d];
    w[p] = dot * scale;
    max = std::max(max, w[p]);
  }
  for (double& v : w) total += (v = std::exp(v - max));
  std::vector<double> out(dim_v, 0.0);
  for (int64_t p = 0; p <= last; ++p) {
    for (int d = 0; d < dim_v; ++d) out[d] += w[p] / total * values[p * v_stride + v_offset + d];
  }
  return out;
}

// Block sizes from one position per block to one block holding the whole
// context (and past kFlashKeyBlock, so a tile ends inside a block).
const int kBlockSizes[] = {1, 5, 16, 64, 100, 1024};

// A long context (several tiles, one partial) through a paged cache in
// scattered blocks, rows with different causal limits, against float64.
TEST_P(AttentionKernelsTest, FlashAttentionWalksPagedBlocksLikeNaiveSoftmax) {
  const KernelTable& kernels = *GetParam().table;
  const int dim = 40, dim_v = 24, n_rows = 5;
  const int64_t n_pos = 3 * kFlashKeyBlock + 17;
  const std::vector<float> q = Random(n_rows * dim, 9);
  const std::vector<int64_t> last_pos = {0, 63, 64, 150, n_pos - 1};
  for (DType type : {DType::kF32, DType::kBF16}) {
    for (int block_size : kBlockSizes) {
      SCOPED_TRACE(std::string(DTypeName(type)) + " block " + std::to_string(block_size));
      const PagedCache cache({2, dim, dim_v, 1}, type, block_size, 1, n_pos, 7);
      std::vector<float> out(n_rows * dim_v);
      FlashScratch scratch;
      const float scale = 0.3f;
      FlashAttend(kernels, {cache.View(0, 1), 0, false, dim, dim_v, scale},
                  {q.data(), n_rows, last_pos.data(), out.data()}, &scratch);
      for (int r = 0; r < n_rows; ++r) {
        const auto want = NaiveAttention(q.data() + r * dim, dim, dim_v, last_pos[r], cache.keys[0], dim, 0,
                                         cache.values[0], dim_v, 0, scale);
        // float32 accumulation over up to 209 keys of unit-size terms.
        for (int d = 0; d < dim_v; ++d) ASSERT_NEAR(out[r * dim_v + d], want[d], 1e-4) << "row " << r << " dim " << d;
      }
    }
  }
}

// Grouped-query attention over a batch: a prefill chunk after a cached
// prefix, a decode, and a prompt from position 0, each in its own scattered
// blocks, KV heads as segments of the cached rows.
TEST_P(AttentionKernelsTest, CausalAttentionOverPagedBatchMatchesNaive) {
  const KernelTable& kernels = *GetParam().table;
  ThreadPool pool(2);
  AttentionShape s;
  s.n_head = 4;
  s.n_kv_head = 2;
  s.head_dim_qk = s.head_dim_v = 24;
  s.q_stride = s.out_stride = s.n_head * 24;
  s.scale = 0.2f;
  const int64_t kv_row = s.n_kv_head * 24;
  const struct { int64_t start, n_query; } plan[] = {{70, 9}, {130, 1}, {0, 12}};
  const int64_t n_pos = 131;
  for (DType type : {DType::kF32, DType::kBF16}) {
    for (int block_size : kBlockSizes) {
      SCOPED_TRACE(std::string(DTypeName(type)) + " block " + std::to_string(block_size));
      const PagedCache cache({3, kv_row, kv_row, s.n_kv_head}, type, block_size, 3, n_pos, 21);
      std::vector<std::vector<float>> q, out;
      std::vector<AttentionSeq> seqs;
      for (int i = 0; i < 3; ++i) {
        q.push_back(Random(plan[i].n_query * s.q_stride, 30 + i));
        out.emplace_back(plan[i].n_query * s.out_stride, 0.0f);
        seqs.push_back({q[i].data(), plan[i].n_query, plan[i].start, cache.View(i, 2), out[i].data()});
      }
      CausalAttention(kernels, s, seqs, &pool);
      for (int i = 0; i < 3; ++i) {
        for (int64_t t = 0; t < plan[i].n_query; ++t) {
          for (int h = 0; h < s.n_head; ++h) {
            const int kvh = h / 2;
            const auto want = NaiveAttention(q[i].data() + t * s.q_stride + h * 24, 24, 24, plan[i].start + t,
                                             cache.keys[i], kv_row, kvh * 24, cache.values[i], kv_row, kvh * 24,
                                             s.scale);
            for (int d = 0; d < 24; ++d) {
              ASSERT_NEAR(out[i][t * s.out_stride + h * 24 + d], want[d], 1e-4) << "seq " << i << " t " << t << " h " << h;
            }
          }
        }
      }
    }
  }
}

// Absorbed MLA over a batch laid out as the model lays it out (q_latent and
// out [head][token][kv_lora], q_rope [token][head][n_rot] over all tokens):
// every head against the shared latent rows [c ; k_rope], values the latent
// part of the same rows.
TEST_P(AttentionKernelsTest, MlaAttentionOverPagedBatchMatchesNaive) {
  const KernelTable& kernels = *GetParam().table;
  ThreadPool pool(2);
  const struct { int64_t start, n_query; } plan[] = {{0, 7}, {90, 1}, {40, 5}};
  const int64_t n_total = 13, n_pos = 91;
  MlaShape s;
  s.n_head = 3;
  s.kv_lora = 32;
  s.n_rot = 8;
  s.scale = 0.15f;
  s.q_rope_token_stride = s.n_head * s.n_rot;
  s.q_rope_head_stride = s.n_rot;
  s.latent_head_stride = n_total * s.kv_lora;
  const int dim_qk = s.kv_lora + s.n_rot;
  const std::vector<float> q_latent = Random(s.n_head * n_total * s.kv_lora, 50);
  const std::vector<float> q_rope = Random(n_total * s.n_head * s.n_rot, 51);
  for (DType type : {DType::kF32, DType::kBF16}) {
    for (int block_size : kBlockSizes) {
      SCOPED_TRACE(std::string(DTypeName(type)) + " block " + std::to_string(block_size));
      const PagedCache cache({2, dim_qk, 0, 1}, type, block_size, 3, n_pos, 41);
      std::vector<float> out(s.n_head * n_total * s.kv_lora, 0.0f);
      std::vector<MlaSeq> seqs;
      int64_t begin = 0;
      for (int i = 0; i < 3; ++i) {
        seqs.push_back({q_latent.data() + begin * s.kv_lora, q_rope.data() + begin * s.q_rope_token_stride,
                        plan[i].n_query, plan[i].start, cache.View(i, 1), out.data() + begin * s.kv_lora});
        begin += plan[i].n_query;
      }
      MlaAttention(kernels, s, seqs, &pool);
      begin = 0;
      for (int i = 0; i < 3; ++i) {
        for (int64_t t = begin; t < begin + plan[i].n_query; ++t) {
          for (int h = 0; h < s.n_head; ++h) {
            std::vector<float> row(q_latent.begin() + (h * n_total + t) * s.kv_lora,
                                   q_latent.begin() + (h * n_total + t + 1) * s.kv_lora);
            row.insert(row.end(), q_rope.begin() + (t * s.n_head + h) * s.n_rot,
                       q_rope.begin() + (t * s.n_head + h + 1) * s.n_rot);
            const auto want = NaiveAttention(row.data(), dim_qk, s.kv_lora, plan[i].start + t - begin, cache.keys[i],
                                             dim_qk, 0, cache.keys[i], dim_qk, 0, s.scale);
            for (int d = 0; d < s.kv_lora; ++d) {
              ASSERT_NEAR(out[(h * n_total + t) * s.kv_lora + d], want[d], 1e-4) << "seq " << i << " t " << t << " h " << h;
            }
          }
        }
        begin += plan[i].n_query;
      }
    }
  }
}

// Export/import move one block of every layer byte for byte: a block
// exported from one pool and imported at another id of a second pool reads
// back the same rows in every layer, and misfits are refused.
TEST(KvStorageTest, ExportedBlockImportsElsewhereWithTheSameRows) {
  for (DType type : {DType::kF32, DType::kBF16}) {
    const KvLayout layout{3, 16, 8, 2};
    const PagedCache source(layout, type, 4, 1, 8, 3);  // 2 blocks used
    auto target = std::move(*KvStorage::Create(layout, type, 4, 9));
    std::vector<uint8_t> bytes(source.storage->block_bytes());
    EXPECT_EQ(bytes.size(), 3u * 4 * (16 + 8) * KvElementBytes(type));
    const int32_t from = source.tables[0][1], to = 7;
    ASSERT_TRUE(source.storage->ExportBlock(from, bytes).ok());
    ASSERT_TRUE(target->ImportBlock(to, bytes).ok());
    const std::vector<int32_t> table = {0, to};
    for (int layer = 0; layer < 3; ++layer) {
      const KvView view(target.get(), layer, table);
      for (int seg = 0; seg < 2; ++seg) {
        for (int slot = 0; slot < 4; ++slot) {
          for (int d = 0; d < 8; ++d) {
            const int64_t pos = 4 + slot;
            const size_t k_at = (slot * view.key_stride() + d) * KvElementBytes(type);
            const size_t v_at = (slot * view.value_stride() + d % 4) * KvElementBytes(type);
            const auto* k = static_cast<const uint8_t*>(view.KeyRows(1, seg)) + k_at;
            const auto* v = static_cast<const uint8_t*>(view.ValueRows(1, seg)) + v_at;
            auto as_float = [type](const uint8_t* p) {
              if (type == DType::kF32) {
                float f;
                std::memcpy(&f, p, 4);
                return f;
              }
              uint16_t h;
              std::memcpy(&h, p, 2);
              return Bf16ToFloat(h);
            };
            ASSERT_EQ(as_float(k), source.keys[0][pos * 16 + seg * 8 + d]) << layer << " " << seg << " " << slot;
            ASSERT_EQ(as_float(v), source.values[0][pos * 8 + seg * 4 + d % 4]) << layer << " " << seg << " " << slot;
          }
        }
      }
    }
    std::vector<uint8_t> again(bytes.size());
    ASSERT_TRUE(target->ExportBlock(to, again).ok());
    EXPECT_EQ(again, bytes);
    EXPECT_EQ(target->ImportBlock(9, bytes).code(), StatusCode::kOutOfRange);
    EXPECT_EQ(target->ImportBlock(-1, bytes).code(), StatusCode::kOutOfRange);
    EXPECT_EQ(target->ImportBlock(0, std::span<const uint8_t>(bytes).first(bytes.size() - 1)).code(),
              StatusCode::kInvalidArgument);
    std::vector<uint8_t> small(bytes.size() + 1);
    EXPECT_EQ(target->ExportBlock(0, small).code(), StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, AttentionKernelsTest, ::testing::ValuesIn(testing::TablesToTest()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace tf
