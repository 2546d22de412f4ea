#include "model/arch/deepseek2.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "kernels/mla_attention.h"
#include "kernels/ops.h"
#include "model/arch/deepseek2_config.h"
#include "model/forward_common.h"
#include "model/moe.h"
#include "model/weight_loader.h"
#include "tensor/dequantize.h"

namespace tf {
namespace {

struct MlaWeights {
  const float* norm = nullptr;
  TensorView q;                       // [n_embd, n_head * hk] (no q_lora)
  TensorView q_a, q_b;                // [n_embd, q_lora], [q_lora, n_head * hk]
  const float* q_a_norm = nullptr;
  TensorView kv_a;                    // [n_embd, kv_lora + n_rot]
  const float* kv_a_norm = nullptr;
  TensorView kv_b;                    // [kv_lora, n_head * (nope + v)] (combined layout)
  TensorView k_b, v_b;                // [nope, kv_lora, n_head], [kv_lora, v, n_head] (split layout)
  TensorView out;                     // [n_head * v, n_embd]
};

struct Deepseek2Layer {
  MlaWeights attn;
  const float* ffn_norm = nullptr;
  FfnWeights dense;        // dense layers, and the shared experts of MoE layers
  TensorView router;       // [n_embd, n_expert]
  const float* router_bias = nullptr;
  ExpertWeights experts;
  bool moe = false;
};

struct Deepseek2Scratch {
  std::vector<float> x, h;            // [n][n_embd]
  std::vector<float> qa;              // [n][q_lora]
  std::vector<float> q;               // [n][n_head * hk]
  std::vector<float> kva;             // [n][kv_lora + n_rot]
  std::vector<float> q_nope;          // [n_head][n][nope]
  std::vector<float> q_latent, o_latent;  // [n_head][n][kv_lora]
  std::vector<float> v_out;           // [n][n_head * v]
  std::vector<float> gate;            // [n][n_ff] silu(gate) * up
  std::vector<float> router_logits;   // [n][n_expert]
  std::vector<ExpertChoice> choices;  // [n][n_expert_used]
  std::vector<float> moe_out;         // [n][n_embd]
  std::vector<MlaSeq> mla_seqs;
  std::vector<MatMulJob> head_jobs;   // one per head for the per-head projections
  std::vector<std::vector<float>> key_rows;  // per thread: a head's kv_b key rows, dequantized
  MatmulScratch matmul;
  ExpertRunner experts;
};

class Deepseek2Model final : public Model {
 public:
  Deepseek2Model(Deepseek2Config config, const KernelTable& kernels) : c_(std::move(config)), kernels_(kernels) {}

  Status Load(WeightLoader* w);
  const ModelConfig& config() const override { return c_.base; }
  KvLayout kv_layout() const override {
    // Per token and layer: the normalized latent and the shared rotary key.
    return {static_cast<int>(c_.n_layer_run()), c_.kv_lora_rank + c_.n_rot, 0};
  }
  size_t weight_bytes() const override { return weight_bytes_; }
  double matmul_macs_per_token() const override { return matmul_macs_; }
  double attention_macs_per_position() const override {
    // Absorbed MLA: q against the latent and rotary key, then p against the latent.
    return static_cast<double>(c_.n_layer_run() * n_head() * (2 * c_.kv_lora_rank + c_.n_rot));
  }
  std::string ArchSummary() const override;
  Status Forward(const ForwardBatch& batch, KvStorage* kv, ThreadPool* pool, float* logits) override;

 private:
  Status LoadAttention(WeightLoader* w, int64_t i, MlaWeights* a);
  TensorView RepackKeyUpProjection(const TensorView& kv_b);
  Status LoadFeedForward(WeightLoader* w, int64_t i, Deepseek2Layer* L);
  void ProjectQuery(const MlaWeights& a, int64_t n, ThreadPool* pool);
  void ProjectKeyValue(const MlaWeights& a, int layer, const ForwardBatch& batch, const std::vector<int64_t>& positions,
                       KvStorage* kv, ThreadPool* pool);
  void AbsorbKeyIntoQuery(const MlaWeights& a, int64_t n, ThreadPool* pool);
  bool AbsorbsByRows(const MlaWeights& a) const;
  void AbsorbKeyByRows(const MlaWeights& a, int64_t n, ThreadPool* pool);
  void ExpandValues(const MlaWeights& a, int64_t n, ThreadPool* pool);
  void AttentionBlock(const Deepseek2Layer& L, int layer, const ForwardBatch& batch,
                      const std::vector<int64_t>& positions, KvStorage* kv, ThreadPool* pool);
  void DenseFeedForward(const FfnWeights& f, int64_t n, float* out, ThreadPool* pool);
  void MoeFeedForward(const Deepseek2Layer& L, int64_t n, ThreadPool* pool);
  void Project(const TensorView& w, const float* in, int64_t n, float* out, int64_t out_stride, ThreadPool* pool) {
    MatMul(kernels_, w, in, n, out, out_stride, &s_.matmul, pool);
  }
  int64_t hk() const { return c_.base.head_dim_k; }
  int64_t hv() const { return c_.base.head_dim_v; }
  int64_t n_head() const { return c_.base.n_head; }

  Deepseek2Config c_;
  const KernelTable& kernels_;
  TensorView token_embd_, output_;
  const float* output_norm_ = nullptr;
  std::vector<Deepseek2Layer> layers_;
  size_t weight_bytes_ = 0;
  double matmul_macs_ = 0;
  std::vector<std::vector<float>> repacked_;  // k_b built from a combined kv_b
  size_t repacked_bytes_ = 0;
  size_t replaced_bytes_ = 0;  // kv_b key rows, read as the repacked copy instead
  Deepseek2Scratch s_;
};

Status Deepseek2Model::LoadAttention(WeightLoader* w, int64_t i, MlaWeights* a) {
  auto name = [i](const char* suffix) { return fmt::format("blk.{}.{}", i, suffix); };
  const int64_t n_embd = c_.base.n_embd, kv_lora = c_.kv_lora_rank;
  TF_ASSIGN_OR_RETURN(a->norm, w->Vector(name("attn_norm.weight"), n_embd));
  if (c_.q_lora_rank > 0) {
    TF_ASSIGN_OR_RETURN(a->q_a, w->Matrix(name("attn_q_a.weight"), {n_embd, c_.q_lora_rank}));
    TF_ASSIGN_OR_RETURN(a->q_a_norm, w->Vector(name("attn_q_a_norm.weight"), c_.q_lora_rank));
    TF_ASSIGN_OR_RETURN(a->q_b, w->Matrix(name("attn_q_b.weight"), {c_.q_lora_rank, n_head() * hk()}));
  } else {
    TF_ASSIGN_OR_RETURN(a->q, w->Matrix(name("attn_q.weight"), {n_embd, n_head() * hk()}));
  }
  TF_ASSIGN_OR_RETURN(a->kv_a, w->Matrix(name("attn_kv_a_mqa.weight"), {n_embd, kv_lora + c_.n_rot}));
  TF_ASSIGN_OR_RETURN(a->kv_a_norm, w->Vector(name("attn_kv_a_norm.weight"), kv_lora));
  // Newer converters split kv_b per head into k_b (stored transposed) and
  // v_b; older ones keep the combined matrix. Either serves the absorbed form.
  if (w->Has(name("attn_k_b.weight")) && w->Has(name("attn_v_b.weight"))) {
    TF_ASSIGN_OR_RETURN(a->k_b, w->Matrix(name("attn_k_b.weight"), {c_.n_nope, kv_lora, n_head()}));
    TF_ASSIGN_OR_RETURN(a->v_b, w->Matrix(name("attn_v_b.weight"), {kv_lora, hv(), n_head()}));
  } else {
    TF_ASSIGN_OR_RETURN(a->kv_b, w->Matrix(name("attn_kv_b.weight"), {kv_lora, n_head() * (c_.n_nope + hv())}));
    // The key is absorbed from kv_b's own rows where a row_axpy kernel reads
    // its type; only otherwise is the transposed float32 copy built.
    if (!AbsorbsByRows(*a)) a->k_b = RepackKeyUpProjection(a->kv_b);
  }
  TF_ASSIGN_OR_RETURN(a->out, w->Matrix(name("attn_output.weight"), {n_head() * hv(), n_embd}));
  return Status::Ok();
}

// The absorbed form applies the key up-projection from the query side, which
// needs it transposed per head. Files with only the combined kv_b get that
// copy built once here ([nope, kv_lora, n_head], the layout of the split
// attn_k_b), in float32 so it holds the file's values exactly: attention
// scores are sensitive enough that rounding it to f16 visibly moves logits.
TensorView Deepseek2Model::RepackKeyUpProjection(const TensorView& kv_b) {
  const int64_t kv_lora = c_.kv_lora_rank, nope = c_.n_nope;
  std::vector<float>& k_b = repacked_.emplace_back(static_cast<size_t>(n_head() * kv_lora * nope));
  std::vector<float> row(kv_lora);
  for (int64_t h = 0; h < n_head(); ++h) {
    for (int64_t i = 0; i < nope; ++i) {
      DequantizeRow(kv_b.type, kv_b.row(h * (nope + hv()) + i), row.data(), kv_lora);
      for (int64_t r = 0; r < kv_lora; ++r) k_b[(h * kv_lora + r) * nope + i] = row[r];
    }
  }
  repacked_bytes_ += k_b.size() * sizeof(float);
  replaced_bytes_ += static_cast<size_t>(n_head() * nope) * kv_b.row_bytes();
  TensorView v;
  v.name = "attn_k_b (repacked)";
  v.type = DType::kF32;
  v.n_dims = 3;
  v.ne = {nope, kv_lora, n_head(), 1};
  v.data = reinterpret_cast<const uint8_t*>(k_b.data());
  v.nbytes = k_b.size() * sizeof(float);
  return v;
}

Status Deepseek2Model::LoadFeedForward(WeightLoader* w, int64_t i, Deepseek2Layer* L) {
  auto name = [i](const char* suffix) { return fmt::format("blk.{}.{}", i, suffix); };
  const int64_t n_embd = c_.base.n_embd;
  TF_ASSIGN_OR_RETURN(L->ffn_norm, w->Vector(name("ffn_norm.weight"), n_embd));
  L->moe = c_.is_moe_layer(i);
  if (!L->moe) {
    TF_ASSIGN_OR_RETURN(L->dense.gate, w->Matrix(name("ffn_gate.weight"), {n_embd, c_.base.n_ff}));
    TF_ASSIGN_OR_RETURN(L->dense.up, w->Matrix(name("ffn_up.weight"), {n_embd, c_.base.n_ff}));
    TF_ASSIGN_OR_RETURN(L->dense.down, w->Matrix(name("ffn_down.weight"), {c_.base.n_ff, n_embd}));
    return Status::Ok();
  }
  const int64_t n_expert = c_.routing.n_expert, n_ff = c_.n_ff_expert;
  TF_ASSIGN_OR_RETURN(L->router, w->Matrix(name("ffn_gate_inp.weight"), {n_embd, n_expert}));
  TF_ASSIGN_OR_RETURN(L->router_bias, w->OptionalVector(name("exp_probs_b.bias"), n_expert));
  TF_ASSIGN_OR_RETURN(L->experts.gate, w->Matrix(name("ffn_gate_exps.weight"), {n_embd, n_ff, n_expert}));
  TF_ASSIGN_OR_RETURN(L->experts.up, w->Matrix(name("ffn_up_exps.weight"), {n_embd, n_ff, n_expert}));
  TF_ASSIGN_OR_RETURN(L->experts.down, w->Matrix(name("ffn_down_exps.weight"), {n_ff, n_embd, n_expert}));
  if (c_.n_expert_shared > 0) {
    const int64_t n_ff_shared = n_ff * c_.n_expert_shared;
    TF_ASSIGN_OR_RETURN(L->dense.gate, w->Matrix(name("ffn_gate_shexp.weight"), {n_embd, n_ff_shared}));
    TF_ASSIGN_OR_RETURN(L->dense.up, w->Matrix(name("ffn_up_shexp.weight"), {n_embd, n_ff_shared}));
    TF_ASSIGN_OR_RETURN(L->dense.down, w->Matrix(name("ffn_down_shexp.weight"), {n_ff_shared, n_embd}));
  }
  return Status::Ok();
}

Status Deepseek2Model::Load(WeightLoader* w) {
  const int64_t n_embd = c_.base.n_embd;
  TF_ASSIGN_OR_RETURN(token_embd_, w->Table("token_embd.weight", {n_embd, c_.base.n_vocab}));
  TF_ASSIGN_OR_RETURN(output_norm_, w->Vector("output_norm.weight", n_embd));
  TF_ASSIGN_OR_RETURN(auto output, w->OptionalMatrix("output.weight", {n_embd, c_.base.n_vocab}));
  if (output) {
    output_ = *output;
  } else {
    TF_ASSIGN_OR_RETURN(output_, w->Matrix("token_embd.weight", {n_embd, c_.base.n_vocab}));
  }
  // Multi-token-prediction layers (the last n_nextn) are not run, so their
  // tensors are neither needed nor checked.
  layers_.resize(c_.n_layer_run());
  size_t expert_bytes = 0;
  int64_t expert_elements = 0;
  for (int64_t i = 0; i < c_.n_layer_run(); ++i) {
    TF_RETURN_IF_ERROR(LoadAttention(w, i, &layers_[i].attn));
    TF_RETURN_IF_ERROR(LoadFeedForward(w, i, &layers_[i]));
    if (layers_[i].moe) {
      const ExpertWeights& e = layers_[i].experts;
      expert_bytes += e.gate.nbytes + e.up.nbytes + e.down.nbytes;
      expert_elements += e.gate.num_elements() + e.up.num_elements() + e.down.num_elements();
    }
  }
  // A decoded token reads everything but the embedding table, and of the
  // routed experts only the ones it uses.
  const size_t dense_bytes = w->bytes_used() - token_embd_.nbytes - expert_bytes;
  const double used = c_.routing.n_expert > 0 ? double(c_.routing.n_expert_used) / c_.routing.n_expert : 0.0;
  weight_bytes_ = dense_bytes + static_cast<size_t>(static_cast<double>(expert_bytes) * used);
  weight_bytes_ += repacked_bytes_ - replaced_bytes_;
  matmul_macs_ = static_cast<double>(w->matrix_elements() - expert_elements) + used * static_cast<double>(expert_elements);
  return Status::Ok();
}

std::string Deepseek2Model::ArchSummary() const {
  const MoeRouting& r = c_.routing;
  const bool split = !layers_.empty() && !layers_[0].attn.kv_b.valid();
  const std::string kv_b_form =
      split ? "split k_b/v_b"
      : repacked_bytes_ == 0
          ? "combined kv_b (key absorbed from its rows)"
          : fmt::format("combined kv_b (k_b repacked: {:.1f} MiB)", repacked_bytes_ / 1048576.0);
  std::string s = fmt::format("MLA: q_lora {}, kv_lora {}, {} nope + {} rope dims per head, v {}, {}, "
                              "softmax scale {:.5f}",
                              c_.q_lora_rank == 0 ? std::string("none") : std::to_string(c_.q_lora_rank),
                              c_.kv_lora_rank, c_.n_nope, c_.n_rot, hv(), kv_b_form, c_.kq_scale);
  if (r.n_expert > 0) {
    s += fmt::format("\nmoe:           {} dense layers, then {} experts (n_ff {}), {} used, {} shared; {} gating{}, "
                     "groups {} of {}, weights {}x{}",
                     c_.n_layer_dense, r.n_expert, c_.n_ff_expert, r.n_expert_used, c_.n_expert_shared,
                     r.gating == ExpertGating::kSigmoid ? "sigmoid" : "softmax",
                     !layers_.empty() && c_.n_layer_run() > c_.n_layer_dense &&
                             layers_[c_.n_layer_dense].router_bias != nullptr
                         ? " with selection bias"
                         : "",
                     r.n_group_used, r.n_group, r.normalize ? "normalized " : "", r.scale);
  }
  if (c_.n_nextn > 0) s += fmt::format("\nmtp:           {} next-token-prediction layers (skipped)", c_.n_nextn);
  return s;
}

void Deepseek2Model::ProjectQuery(const MlaWeights& a, int64_t n, ThreadPool* pool) {
  if (c_.q_lora_rank == 0) {
    Project(a.q, s_.h.data(), n, s_.q.data(), n_head() * hk(), pool);
    return;
  }
  Project(a.q_a, s_.h.data(), n, s_.qa.data(), c_.q_lora_rank, pool);
  RmsNorm(s_.qa.data(), a.q_a_norm, c_.base.rms_eps, n, c_.q_lora_rank, s_.qa.data());
  Project(a.q_b, s_.qa.data(), n, s_.q.data(), n_head() * hk(), pool);
}

// Computes the latent c and the rotary key of every token and stores them
// in the cache: row = [c (kv_lora), k_rope (n_rot)].
void Deepseek2Model::ProjectKeyValue(const MlaWeights& a, int layer, const ForwardBatch& batch,
                                     const std::vector<int64_t>& positions, KvStorage* kv, ThreadPool* pool) {
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t row = c_.kv_lora_rank + c_.n_rot;
  Project(a.kv_a, s_.h.data(), n, s_.kva.data(), row, pool);
  for (int64_t t = 0; t < n; ++t) {
    float* r = s_.kva.data() + t * row;
    RmsNorm(r, a.kv_a_norm, c_.base.rms_eps, 1, c_.kv_lora_rank, r);
    ApplyRope(c_.base.rope, positions[t], 1, static_cast<int>(c_.n_rot), static_cast<int>(c_.n_rot), r + c_.kv_lora_rank);
  }
  for (const SequenceSlice& seq : batch.seqs) {
    for (int64_t i = 0; i < seq.num_tokens; ++i) {
      const KvSlot at = SlotOf(seq, seq.start_pos + i, kv->block_size());
      kv->StoreKey(layer, at.block, at.slot, s_.kva.data() + (seq.token_begin + i) * row);
    }
  }
}

// With a combined kv_b, the key is absorbed from kv_b's rows where they lie
// in the file (Q4_0 there is 1/7 of a float32 repack's bytes). Up to
// kRowAbsorbMaxTokens tokens, each row scaled by the query's coefficient is
// added into the head's latent query (row_axpy); more tokens take the
// head's rows dequantized once into scratch through sgemm, whose reuse
// across tokens pays for that. Both sum each output in order of i by FMA
// from zero over the same float weights, so a token's latent query is
// bit-identical either way and never depends on how many share the step
// (BatchRunnerTest and EngineTest hold this).
constexpr int64_t kRowAbsorbMaxTokens = 8;

// Only with an ISA body for kv_b's type: the scalar reference is slower in
// prefill than the repack's float GEMM, and the scalar sgemm's sums are not
// the FMA chain row_axpy's are.
bool Deepseek2Model::AbsorbsByRows(const MlaWeights& a) const {
  if (!a.kv_b.valid()) return false;
  const RowAxpyFn axpy = kernels_.RowAxpy(a.kv_b.type);
  return axpy != nullptr && axpy != GetKernelTable(Isa::kScalar).RowAxpy(a.kv_b.type);
}

// q_latent[h][t][r] = sum_i kv_b[h * (nope + v) + i][r] * q[t][h][i]; heads
// split over threads.
void Deepseek2Model::AbsorbKeyByRows(const MlaWeights& a, int64_t n, ThreadPool* pool) {
  const int64_t kv_lora = c_.kv_lora_rank, nope = c_.n_nope, q_stride = n_head() * hk();
  const RowAxpyFn axpy = kernels_.RowAxpy(a.kv_b.type);
  s_.key_rows.resize(static_cast<size_t>(pool->num_threads()));
  pool->ParallelForDynamic(n_head(), [&](int64_t h, int thread) {
    float* q_latent = s_.q_latent.data() + h * n * kv_lora;  // [n][kv_lora] for head h
    const float* q_nope = s_.q.data() + h * hk();  // coefficient i of token t at [t * q_stride + i]
    const int64_t first_row = h * (nope + hv());
    if (n <= kRowAbsorbMaxTokens) {
      std::fill(q_latent, q_latent + n * kv_lora, 0.0f);
      for (int64_t i = 0; i < nope; ++i) axpy(kv_lora, a.kv_b.row(first_row + i), q_nope + i, q_stride, n, q_latent, kv_lora);
      return;
    }
    std::vector<float>& rows = s_.key_rows[static_cast<size_t>(thread)];  // [nope][kv_lora]
    rows.resize(static_cast<size_t>(nope * kv_lora));
    for (int64_t i = 0; i < nope; ++i) DequantizeRow(a.kv_b.type, a.kv_b.row(first_row + i), rows.data() + i * kv_lora, kv_lora);
    kernels_.sgemm(n, kv_lora, nope, q_nope, q_stride, rows.data(), kv_lora, q_latent, kv_lora, false);
  });
}

// q_latent[h][t] = W_kb[h]^T q_nope[t][h]: the key up-projection moved onto
// the query, so scores can be taken against the cached latents directly.
void Deepseek2Model::AbsorbKeyIntoQuery(const MlaWeights& a, int64_t n, ThreadPool* pool) {
  if (AbsorbsByRows(a)) {
    AbsorbKeyByRows(a, n, pool);
    return;
  }
  const int64_t kv_lora = c_.kv_lora_rank, nope = c_.n_nope;
  s_.head_jobs.clear();
  for (int64_t h = 0; h < n_head(); ++h) {
    float* q_nope = s_.q_nope.data() + h * n * nope;  // [n][nope] for head h
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(q_nope + t * nope, s_.q.data() + t * n_head() * hk() + h * hk(), nope * sizeof(float));
    }
    s_.head_jobs.push_back({a.k_b.Matrix(h), s_.q_latent.data() + h * n * kv_lora, kv_lora, q_nope, n});
  }
  MatMulMany(kernels_, s_.head_jobs, nullptr, 0, &s_.matmul, pool);  // all heads in one region
}

// v_out[t][h] = W_vb[h] o_latent[h][t].
void Deepseek2Model::ExpandValues(const MlaWeights& a, int64_t n, ThreadPool* pool) {
  const int64_t kv_lora = c_.kv_lora_rank;
  s_.head_jobs.clear();
  for (int64_t h = 0; h < n_head(); ++h) {
    const TensorView v = a.v_b.valid() ? a.v_b.Matrix(h) : a.kv_b.Rows(h * (c_.n_nope + hv()) + c_.n_nope, hv());
    s_.head_jobs.push_back({v, s_.v_out.data() + h * hv(), n_head() * hv(), s_.o_latent.data() + h * n * kv_lora, n});
  }
  MatMulMany(kernels_, s_.head_jobs, nullptr, 0, &s_.matmul, pool);
}

void Deepseek2Model::AttentionBlock(const Deepseek2Layer& L, int layer, const ForwardBatch& batch,
                                    const std::vector<int64_t>& positions, KvStorage* kv, ThreadPool* pool) {
  const MlaWeights& a = L.attn;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  RmsNorm(s_.x.data(), a.norm, c_.base.rms_eps, n, c_.base.n_embd, s_.h.data());
  ProjectQuery(a, n, pool);
  for (int64_t t = 0; t < n; ++t) {  // rotate the rope part of every head
    ApplyRope(c_.base.rope, positions[t], static_cast<int>(n_head()), static_cast<int>(c_.n_rot),
              static_cast<int>(hk()), s_.q.data() + t * n_head() * hk() + c_.n_nope);
  }
  ProjectKeyValue(a, layer, batch, positions, kv, pool);
  AbsorbKeyIntoQuery(a, n, pool);
  MlaShape shape;
  shape.n_head = static_cast<int>(n_head());
  shape.kv_lora = static_cast<int>(c_.kv_lora_rank);
  shape.n_rot = static_cast<int>(c_.n_rot);
  shape.scale = c_.kq_scale;
  shape.q_rope_token_stride = n_head() * hk();
  shape.q_rope_head_stride = hk();
  shape.latent_head_stride = n * c_.kv_lora_rank;
  s_.mla_seqs.clear();
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SequenceSlice& seq = batch.seqs[i];
    const int64_t off = seq.token_begin;
    s_.mla_seqs.push_back({s_.q_latent.data() + off * c_.kv_lora_rank, s_.q.data() + off * n_head() * hk() + c_.n_nope,
                           seq.num_tokens, seq.start_pos, KvView(kv, layer, seq.block_table),
                           s_.o_latent.data() + off * c_.kv_lora_rank});
  }
  MlaAttention(kernels_, shape, s_.mla_seqs, pool);
  ExpandValues(a, n, pool);
  Project(a.out, s_.v_out.data(), n, s_.h.data(), c_.base.n_embd, pool);
  AddInPlace(s_.h.data(), n * c_.base.n_embd, s_.x.data());
}

// out = down(silu(gate h) * up h), h = s_.h.
void Deepseek2Model::DenseFeedForward(const FfnWeights& f, int64_t n, float* out, ThreadPool* pool) {
  const int64_t n_ff = f.gate.ne[1];
  s_.gate.resize(n * n_ff);
  MatMulSiluGate(kernels_, f.gate, f.up, s_.h.data(), n, s_.gate.data(), n_ff, &s_.matmul, pool);
  Project(f.down, s_.gate.data(), n, out, c_.base.n_embd, pool);
}

void Deepseek2Model::MoeFeedForward(const Deepseek2Layer& L, int64_t n, ThreadPool* pool) {
  const MoeRouting& r = c_.routing;
  const int64_t n_embd = c_.base.n_embd;
  s_.router_logits.resize(n * r.n_expert);
  s_.choices.resize(n * r.n_expert_used);
  Project(L.router, s_.h.data(), n, s_.router_logits.data(), r.n_expert, pool);
  for (int64_t t = 0; t < n; ++t) {
    RouteToken(r, s_.router_logits.data() + t * r.n_expert, L.router_bias, s_.choices.data() + t * r.n_expert_used);
  }
  s_.moe_out.assign(n * n_embd, 0.0f);
  // Shared experts (a dense FFN over every token) run in the routed experts'
  // parallel regions.
  const FfnWeights* shared = L.dense.gate.valid() ? &L.dense : nullptr;
  s_.experts.Run(kernels_, L.experts, shared, s_.h.data(), n, s_.choices, r.n_expert_used, s_.moe_out.data(), pool);
  AddInPlace(s_.moe_out.data(), n * n_embd, s_.x.data());
}

Status Deepseek2Model::Forward(const ForwardBatch& batch, KvStorage* kv, ThreadPool* pool, float* logits) {
  TF_RETURN_IF_ERROR(ValidateBatch(batch, c_.base.n_vocab, *kv));
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  if (n == 0) return Status::Ok();
  const int64_t n_embd = c_.base.n_embd;
  s_.x.resize(n * n_embd);
  s_.h.resize(n * n_embd);
  s_.qa.resize(n * c_.q_lora_rank);
  s_.q.resize(n * n_head() * hk());
  s_.kva.resize(n * (c_.kv_lora_rank + c_.n_rot));
  s_.q_nope.resize(n * n_head() * c_.n_nope);
  s_.q_latent.resize(n * n_head() * c_.kv_lora_rank);
  s_.o_latent.resize(n * n_head() * c_.kv_lora_rank);
  s_.v_out.resize(n * n_head() * hv());
  EmbedTokens(token_embd_, batch.tokens, s_.x.data(), pool);
  const std::vector<int64_t> positions = TokenPositions(batch);
  for (int layer = 0; layer < static_cast<int>(c_.n_layer_run()); ++layer) {
    const Deepseek2Layer& L = layers_[layer];
    AttentionBlock(L, layer, batch, positions, kv, pool);
    RmsNorm(s_.x.data(), L.ffn_norm, c_.base.rms_eps, n, n_embd, s_.h.data());
    if (L.moe) {
      MoeFeedForward(L, n, pool);
    } else {
      s_.moe_out.resize(n * n_embd);
      DenseFeedForward(L.dense, n, s_.moe_out.data(), pool);
      AddInPlace(s_.moe_out.data(), n * n_embd, s_.x.data());
    }
  }
  ComputeLogits(kernels_, s_.x.data(), n_embd, batch.logit_rows, output_norm_, c_.base.rms_eps, output_, logits,
                &s_.matmul, pool);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadDeepseek2Model(const GgufFile& file, const KernelTable& kernels,
                                                 const ModelOptions& options, ThreadPool* pool) {
  TF_ASSIGN_OR_RETURN(Deepseek2Config config, ReadDeepseek2Config(file));
  const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr) return NotFoundError("tensor token_embd.weight is missing");
  config.base.n_vocab = embd->ne[1];
  auto model = std::make_unique<Deepseek2Model>(std::move(config), kernels);
  WeightLoader loader(file, kernels, model->mutable_arena(), pool, options.pack_weights);
  TF_RETURN_IF_ERROR(model->Load(&loader));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace tf
