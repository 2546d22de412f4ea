#include "kernels/attention.h"

#include <algorithm>
#include <vector>

#include "base/check.h"
#include "kernels/flash_attention.h"

namespace tf {
namespace {

// Query rows per FlashAttend call: enough to reuse each loaded key block
// many times, few enough that scores and outputs stay in L1/L2.
constexpr int kMaxRows = 64;

struct Item {
  int seq;
  int kv_head;
  int64_t t0, t1;  // query tokens
  int64_t cost;    // keys visited
};

// One (sequence, KV head, token tile) work item per FlashAttend call,
// longest contexts first so dynamic scheduling balances the causal triangle.
std::vector<Item> MakeItems(const AttentionShape& s, std::span<const AttentionSeq> seqs) {
  const int group = s.n_head / s.n_kv_head;
  const int64_t tile = std::max<int64_t>(1, kMaxRows / group);
  std::vector<Item> items;
  for (size_t q = 0; q < seqs.size(); ++q) {
    for (int64_t t1 = seqs[q].n_query; t1 > 0; t1 -= tile) {
      for (int g = 0; g < s.n_kv_head; ++g) {
        items.push_back({static_cast<int>(q), g, std::max<int64_t>(0, t1 - tile), t1, seqs[q].start_pos + t1});
      }
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.cost > b.cost; });
  return items;
}

}  // namespace

void CausalAttention(const KernelTable& kernels, const AttentionShape& s, std::span<const AttentionSeq> seqs,
                     ThreadPool* pool) {
  for (const AttentionSeq& seq : seqs) {
    TF_CHECK(seq.kv.capacity() >= seq.start_pos + seq.n_query) << "attention: KV shorter than query";
  }
  const int group = s.n_head / s.n_kv_head;
  const std::vector<Item> items = MakeItems(s, seqs);
  std::vector<FlashThreadBuffers> buffers(static_cast<size_t>(pool->num_threads()));
  pool->ParallelForDynamic(static_cast<int64_t>(items.size()), [&](int64_t index, int thread) {
    const Item& it = items[index];
    const AttentionSeq& seq = seqs[it.seq];
    const float* q = seq.q;
    float* out = seq.out;
    FlashThreadBuffers& b = buffers[thread];
    const int n_rows = static_cast<int>((it.t1 - it.t0) * group);
    const FlashRows rows = b.Rows(n_rows, s.head_dim_qk, s.head_dim_v);
    // Row r = (token t0 + r / group, query head kv_head * group + r % group).
    for (int r = 0; r < n_rows; ++r) {
      const int64_t t = it.t0 + r / group;
      const int h = it.kv_head * group + r % group;
      std::copy_n(q + t * s.q_stride + static_cast<int64_t>(h) * s.head_dim_qk, s.head_dim_qk,
                  b.q.data() + static_cast<size_t>(r) * s.head_dim_qk);
      b.last_pos[r] = seq.start_pos + t;
    }
    const FlashKv kv{seq.kv, it.kv_head, /*values_in_keys=*/false, s.head_dim_qk, s.head_dim_v, s.scale};
    FlashAttend(kernels, kv, rows, &b.flash);
    for (int r = 0; r < n_rows; ++r) {
      const int64_t t = it.t0 + r / group;
      const int h = it.kv_head * group + r % group;
      std::copy_n(b.out.data() + static_cast<size_t>(r) * s.head_dim_v, s.head_dim_v,
                  out + t * s.out_stride + static_cast<int64_t>(h) * s.head_dim_v);
    }
  });
}

}  // namespace tf
