#include "model/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/ops.h"

namespace tf {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Indices of the k largest values, largest first; ties keep the lower index.
void TopK(const float* values, int n, int k, int32_t* out) {
  std::vector<int32_t> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = i;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [values](int32_t a, int32_t b) {
    return values[a] > values[b] || (values[a] == values[b] && a < b);
  });
  std::copy(idx.begin(), idx.begin() + k, out);
}

// Sets the selection scores of experts outside the best groups to -inf.
void LimitToBestGroups(const MoeRouting& r, bool has_bias, float* selection) {
  const int per_group = r.n_expert / r.n_group;
  std::vector<float> group_score(r.n_group);
  for (int g = 0; g < r.n_group; ++g) {
    const float* s = selection + g * per_group;
    float best = kNegInf, second = kNegInf;
    for (int e = 0; e < per_group; ++e) {
      if (s[e] > best) {
        second = best;
        best = s[e];
      } else if (s[e] > second) {
        second = s[e];
      }
    }
    group_score[g] = has_bias && per_group > 1 ? best + second : best;
  }
  std::vector<int32_t> keep(r.n_group_used);
  TopK(group_score.data(), r.n_group, r.n_group_used, keep.data());
  for (int g = 0; g < r.n_group; ++g) {
    if (std::find(keep.begin(), keep.end(), g) != keep.end()) continue;
    std::fill(selection + g * per_group, selection + (g + 1) * per_group, kNegInf);
  }
}

}  // namespace

void RouteToken(const MoeRouting& r, const float* logits, const float* bias, ExpertChoice* out) {
  std::vector<float> probs(logits, logits + r.n_expert);
  if (r.gating == ExpertGating::kSoftmax) {
    Softmax(probs.data(), r.n_expert);
  } else {
    for (float& p : probs) p = 1.0f / (1.0f + std::exp(-p));
  }
  std::vector<float> selection = probs;
  if (bias != nullptr) {
    for (int e = 0; e < r.n_expert; ++e) selection[e] += bias[e];
  }
  if (r.n_group > 1 && r.n_group_used < r.n_group) LimitToBestGroups(r, bias != nullptr, selection.data());
  std::vector<int32_t> chosen(r.n_expert_used);
  TopK(selection.data(), r.n_expert, r.n_expert_used, chosen.data());
  double sum = 0.0;
  for (int i = 0; i < r.n_expert_used; ++i) {
    out[i] = {chosen[i], probs[chosen[i]]};
    sum += probs[chosen[i]];
  }
  const float norm = r.normalize && sum > 0.0 ? static_cast<float>(1.0 / sum) : 1.0f;
  for (int i = 0; i < r.n_expert_used; ++i) out[i].weight *= norm * r.scale;
}

void ExpertRunner::Run(const KernelTable& kernels, const ExpertWeights& w, const FfnWeights* shared, const float* x,
                       int64_t n_tokens, const std::vector<ExpertChoice>& choices, int k, float* out,
                       ThreadPool* pool) {
  const int64_t n_embd = w.gate.ne[0], n_ff = w.gate.ne[1], n_expert = w.gate.ne[2];
  by_expert_.resize(n_expert);
  for (auto& list : by_expert_) list.clear();
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int i = 0; i < k; ++i) by_expert_[choices[t * k + i].expert].emplace_back(t, choices[t * k + i].weight);
  }
  // Tokens grouped by expert: expert e's rows are [offset_e, offset_e + n_e).
  experts_used_ = 0;
  const int64_t routed_rows = n_tokens * k;
  x_.resize(routed_rows * n_embd);
  gate_.resize(routed_rows * n_ff);
  down_.resize(routed_rows * n_embd);
  gated_.clear();
  down_jobs_.clear();
  int64_t offset = 0;
  for (int64_t e = 0; e < n_expert; ++e) {
    const auto& routed = by_expert_[e];
    if (routed.empty()) continue;
    ++experts_used_;
    const int64_t n = static_cast<int64_t>(routed.size());
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(x_.data() + (offset + i) * n_embd, x + routed[i].first * n_embd, sizeof(float) * n_embd);
    }
    gated_.push_back({w.gate.Matrix(e), w.up.Matrix(e), x_.data() + offset * n_embd, n,
                      gate_.data() + offset * n_ff, n_ff});
    down_jobs_.push_back({w.down.Matrix(e), down_.data() + offset * n_embd, n_embd, gate_.data() + offset * n_ff, n});
    offset += n;
  }
  if (shared != nullptr) {
    const int64_t n_ff_shared = shared->gate.ne[1];
    shared_gate_.resize(n_tokens * n_ff_shared);
    shared_down_.resize(n_tokens * n_embd);
    gated_.push_back({shared->gate, shared->up, x, n_tokens, shared_gate_.data(), n_ff_shared});
    down_jobs_.push_back({shared->down, shared_down_.data(), n_embd, shared_gate_.data(), n_tokens});
  }
  // Every expert in one parallel region per step: decode touches 6-8 small
  // matrices per layer, too little work each to synchronize for.
  MatMulSiluGateMany(kernels, gated_, &matmul_, pool);
  MatMulMany(kernels, down_jobs_, nullptr, 0, &matmul_, pool);
  if (shared != nullptr) AddInPlace(shared_down_.data(), n_tokens * n_embd, out);
  offset = 0;
  for (int64_t e = 0; e < n_expert; ++e) {
    for (const auto& [token, weight] : by_expert_[e]) {
      kernels.axpy_f32(n_embd, weight, down_.data() + offset * n_embd, out + token * n_embd);
      ++offset;
    }
  }
}

}  // namespace tf
