#include "kernels/mla_attention.h"

#include <algorithm>
#include <vector>

#include "base/check.h"
#include "kernels/flash_attention.h"

namespace tf {
namespace {

constexpr int kMaxRows = 64;  // query rows per FlashAttend call

struct Item {
  int seq;
  int64_t t0, t1;  // query tokens
  int h0, h1;      // heads
  int64_t cost;    // keys visited
};

// Every head reads the same latent rows, so rows group tokens x heads.
// Heads are split further when there are too few items to keep every
// thread busy (decode of few sequences: one token each). Longest contexts
// first for dynamic scheduling.
std::vector<Item> MakeItems(const MlaShape& s, std::span<const MlaSeq> seqs, int num_threads) {
  int head_chunk = std::min(s.n_head, kMaxRows);
  const int64_t token_tile = std::max<int64_t>(1, kMaxRows / head_chunk);
  int64_t n_tiles = 0;
  for (const MlaSeq& seq : seqs) n_tiles += (seq.n_query + token_tile - 1) / token_tile;
  const int64_t heads_wanted = (2 * num_threads + n_tiles - 1) / std::max<int64_t>(n_tiles, 1);
  if (heads_wanted > 1) head_chunk = std::max(1, static_cast<int>((s.n_head + heads_wanted - 1) / heads_wanted));
  std::vector<Item> items;
  for (size_t q = 0; q < seqs.size(); ++q) {
    for (int64_t t1 = seqs[q].n_query; t1 > 0; t1 -= token_tile) {
      for (int h0 = 0; h0 < s.n_head; h0 += head_chunk) {
        items.push_back({static_cast<int>(q), std::max<int64_t>(0, t1 - token_tile), t1, h0,
                         std::min(s.n_head, h0 + head_chunk), seqs[q].start_pos + t1});
      }
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.cost > b.cost; });
  return items;
}

}  // namespace

void MlaAttention(const KernelTable& kernels, const MlaShape& s, std::span<const MlaSeq> seqs, ThreadPool* pool) {
  for (const MlaSeq& seq : seqs) {
    TF_CHECK(seq.kv.capacity() >= seq.start_pos + seq.n_query) << "MLA: KV shorter than query";
  }
  const int dim_qk = s.kv_lora + s.n_rot;
  const std::vector<Item> items = MakeItems(s, seqs, pool->num_threads());
  std::vector<FlashThreadBuffers> buffers(static_cast<size_t>(pool->num_threads()));
  pool->ParallelForDynamic(static_cast<int64_t>(items.size()), [&](int64_t index, int thread) {
    const Item& it = items[index];
    const MlaSeq& seq = seqs[it.seq];
    const float* q_latent = seq.q_latent;
    const float* q_rope = seq.q_rope;
    float* out = seq.out;
    FlashThreadBuffers& b = buffers[thread];
    const int heads = it.h1 - it.h0;
    const int n_rows = static_cast<int>((it.t1 - it.t0) * heads);
    const FlashRows rows = b.Rows(n_rows, dim_qk, s.kv_lora);
    // Row r = (token t0 + r / heads, head h0 + r % heads): [q_latent ; q_rope],
    // matching the cached row [c ; k_rope].
    for (int r = 0; r < n_rows; ++r) {
      const int64_t t = it.t0 + r / heads;
      const int h = it.h0 + r % heads;
      float* row = b.q.data() + static_cast<size_t>(r) * dim_qk;
      std::copy_n(q_latent + h * s.latent_head_stride + t * s.kv_lora, s.kv_lora, row);
      std::copy_n(q_rope + t * s.q_rope_token_stride + h * s.q_rope_head_stride, s.n_rot, row + s.kv_lora);
      b.last_pos[r] = seq.start_pos + t;
    }
    const FlashKv kv{seq.kv, /*segment=*/0, /*values_in_keys=*/true, dim_qk, s.kv_lora, s.scale};
    FlashAttend(kernels, kv, rows, &b.flash);
    for (int r = 0; r < n_rows; ++r) {
      const int64_t t = it.t0 + r / heads;
      const int h = it.h0 + r % heads;
      std::copy_n(b.out.data() + static_cast<size_t>(r) * s.kv_lora, s.kv_lora,
                  out + h * s.latent_head_stride + t * s.kv_lora);
    }
  });
}

}  // namespace tf
