// Mixture-of-experts feed-forward (DeepSeekMoE and friends): route each token
// to its top-k experts once, then run every expert once over all the tokens
// routed to it, so each expert's weights are read once per batch.
//
// Routing follows DeepSeek: gate probabilities (softmax or sigmoid of the
// router logits), an optional per-expert selection bias added for choosing
// only, optional group-limited choice (keep the best n_group_used groups,
// scored by the sum of their two best biased scores, or their best one when
// there is no bias), top-k inside them, weights from the unbiased
// probabilities, optionally normalized to sum 1, then scaled.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "tensor/tensor_view.h"

namespace tf {

enum class ExpertGating { kSoftmax, kSigmoid };

struct MoeRouting {
  int n_expert = 0;
  int n_expert_used = 0;
  int n_group = 1;       // expert groups; 1 = no group limit
  int n_group_used = 1;  // groups a token may use
  ExpertGating gating = ExpertGating::kSoftmax;
  bool normalize = false;  // weights / sum(weights)
  float scale = 1.0f;      // then weights * scale
};

struct ExpertChoice {
  int32_t expert;
  float weight;
};

// One token: logits [n_expert], bias [n_expert] or nullptr; writes
// n_expert_used choices, best first.
void RouteToken(const MoeRouting& r, const float* logits, const float* bias, ExpertChoice* out);

struct ExpertWeights {
  TensorView gate;  // [n_embd, n_ff, n_expert]
  TensorView up;    // [n_embd, n_ff, n_expert]
  TensorView down;  // [n_ff, n_embd, n_expert]
};

// A gated feed-forward: down(silu(gate x) * up x).
struct FfnWeights {
  TensorView gate, up, down;
};

// out[t] += sum over choices[t] of weight * down(silu(gate x_t) * up x_t),
// plus shared(x_t) when a shared expert is given. x: [n_tokens][n_embd];
// choices: [n_tokens][k].
class ExpertRunner {
 public:
  void Run(const KernelTable& kernels, const ExpertWeights& w, const FfnWeights* shared, const float* x,
           int64_t n_tokens, const std::vector<ExpertChoice>& choices, int k, float* out, ThreadPool* pool);
  // Experts that had at least one token in the last Run (for bandwidth accounting).
  int64_t experts_used_last_run() const { return experts_used_; }

 private:
  std::vector<std::vector<std::pair<int64_t, float>>> by_expert_;  // expert -> (token, weight)
  std::vector<float> x_, gate_, down_;  // [routed rows][...], grouped by expert
  std::vector<float> shared_gate_, shared_down_;  // [n_tokens][...]
  std::vector<GatedJob> gated_;
  std::vector<MatMulJob> down_jobs_;
  MatmulScratch matmul_;
  int64_t experts_used_ = 0;
};

}  // namespace tf
