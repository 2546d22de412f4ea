// The attention core shared by standard (grouped-query) and latent (MLA)
// attention: a set of query rows that read the same key/value rows of a
// paged cache (tensor/kv_view.h), each row seeing positions 0..last_pos[i].
// Keys are visited in windows of kFlashKeyBlock with an online softmax
// (running max and sum per row), so memory stays O(rows x window) however
// long the context: no n x n score matrix is ever formed. A window may span
// several small KV blocks, but no GEMM operand does: the window is split
// into runs at block boundaries, and each run's keys and values are read
// where they lie (float32 cache) or converted into a staging tile once per
// window (bf16). Scores (KernelTable::sgemm_nt) and value sums (sgemm) are
// small float GEMMs that every query row of the call shares. The softmax
// works per window rather than per run so that 16-token blocks cost what
// 64-token ones do.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/kernel_table.h"
#include "tensor/kv_view.h"

namespace tf {

inline constexpr int64_t kFlashKeyBlock = 64;

// The part of a key window [offset, offset + count) that lies inside one KV
// block, with where its rows start in the cache.
struct FlashKeyRun {
  int64_t offset = 0;
  int64_t count = 0;
  const void* keys = nullptr;
  const void* values = nullptr;
};

// Per-thread working memory, reused across calls.
struct FlashScratch {
  std::vector<float> k;       // [window][dim_qk] keys converted to float32 (bf16 cache)
  std::vector<float> v;       // [window][dim_v] values, likewise
  std::vector<float> scores;  // [rows][window]
  std::vector<float> row_max, row_sum;
  std::vector<FlashKeyRun> runs;  // the current window's runs
};

struct FlashRows {
  const float* q = nullptr;          // [n_rows][dim_qk]
  int n_rows = 0;
  const int64_t* last_pos = nullptr; // [n_rows] last visible key position of each row
  float* out = nullptr;              // [n_rows][dim_v]
};

// One thread's gathered query rows, their outputs and scratch, reused
// across the work items it takes (GQA and MLA attention both use it).
struct FlashThreadBuffers {
  FlashScratch flash;
  std::vector<float> q;            // [n_rows][dim_qk]
  std::vector<float> out;          // [n_rows][dim_v]
  std::vector<int64_t> last_pos;   // [n_rows]
  // Sizes the buffers for n_rows rows; fill q and last_pos, then attend.
  FlashRows Rows(int n_rows, int64_t dim_qk, int64_t dim_v) {
    q.resize(static_cast<size_t>(n_rows) * static_cast<size_t>(dim_qk));
    out.resize(static_cast<size_t>(n_rows) * static_cast<size_t>(dim_v));
    last_pos.resize(static_cast<size_t>(n_rows));
    return {q.data(), n_rows, last_pos.data(), out.data()};
  }
};

struct FlashKv {
  KvView view;                  // one layer of the sequence's cache
  int segment = 0;              // the KV head whose rows are read
  bool values_in_keys = false;  // MLA: a value is the first dim_v elements of its key row
  int dim_qk = 0;
  int dim_v = 0;
  float scale = 1.0f;
};

// out[i] = softmax_j(scale * q_i . k_j, j <= last_pos[i]) . v. Single-threaded;
// callers spread independent calls over their threads.
void FlashAttend(const KernelTable& kernels, const FlashKv& kv, const FlashRows& rows, FlashScratch* scratch);

}  // namespace tf
