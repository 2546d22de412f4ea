#include "model/arch/llama.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "gguf/gguf_file.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/forward_common.h"
#include "model/weight_loader.h"

namespace tf {
namespace {

struct LlamaLayer {
  const float* attn_norm = nullptr;
  TensorView wq, wk, wv, wo;
  const float* bq = nullptr;  // optional biases (qwen2)
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* ffn_norm = nullptr;
  TensorView w_gate, w_up, w_down;
};

// Activations of one forward pass, reused between calls.
struct LlamaScratch {
  std::vector<float> x;      // [n][n_embd] residual stream
  std::vector<float> h;      // [n][n_embd] normed input / block output
  std::vector<float> q;      // [n][n_head * head_dim]
  std::vector<float> k;      // [n][n_kv * head_dim]
  std::vector<float> v;      // [n][n_kv * head_dim]
  std::vector<float> attn;   // [n][n_head * head_dim]
  std::vector<float> gate;   // [n][n_ff] silu(gate) * up
  std::vector<AttentionSeq> attn_seqs;
  MatmulScratch matmul;
};

class LlamaModel final : public Model {
 public:
  LlamaModel(ModelConfig config, const KernelTable& kernels) : config_(std::move(config)), kernels_(kernels) {}

  Status Load(WeightLoader* w);
  const ModelConfig& config() const override { return config_; }
  KvLayout kv_layout() const override {
    const int64_t row = config_.n_head_kv * config_.head_dim_k;
    return {static_cast<int>(config_.n_layer), row, row, static_cast<int>(config_.n_head_kv)};
  }
  size_t weight_bytes() const override { return weight_bytes_; }
  double matmul_macs_per_token() const override { return matmul_macs_; }
  double attention_macs_per_position() const override {
    // q.k and p.v for every head of every layer.
    return 2.0 * static_cast<double>(config_.n_layer * config_.n_head * config_.head_dim_k);
  }
  Status Forward(const ForwardBatch& batch, KvStorage* kv, ThreadPool* pool, float* logits) override;

 private:
  void Resize(int64_t n);
  void AttentionBlock(const LlamaLayer& L, int layer, const ForwardBatch& batch,
                      const std::vector<int64_t>& positions, KvStorage* kv, ThreadPool* pool);
  void FeedForwardBlock(const LlamaLayer& L, int64_t n, ThreadPool* pool);
  void Project(const TensorView& w, const float* in, int64_t n, float* out, ThreadPool* pool) {
    MatMul(kernels_, w, in, n, out, w.ne[1], &s_.matmul, pool);
  }

  ModelConfig config_;
  const KernelTable& kernels_;
  TensorView token_embd_, output_;
  const float* output_norm_ = nullptr;
  std::vector<LlamaLayer> layers_;
  size_t weight_bytes_ = 0;
  double matmul_macs_ = 0;
  LlamaScratch s_;
};

Status LlamaModel::Load(WeightLoader* w) {
  const int64_t n_embd = config_.n_embd, hd = config_.head_dim_k;
  const int64_t q_dim = config_.n_head * hd, kv_dim = config_.n_head_kv * hd;
  TF_ASSIGN_OR_RETURN(token_embd_, w->Table("token_embd.weight", {n_embd, config_.n_vocab}));
  TF_ASSIGN_OR_RETURN(output_norm_, w->Vector("output_norm.weight", n_embd));
  TF_ASSIGN_OR_RETURN(auto output, w->OptionalMatrix("output.weight", {n_embd, config_.n_vocab}));
  if (output) {
    output_ = *output;
  } else {  // tied embeddings
    TF_ASSIGN_OR_RETURN(output_, w->Matrix("token_embd.weight", {n_embd, config_.n_vocab}));
  }
  layers_.resize(config_.n_layer);
  for (int64_t i = 0; i < config_.n_layer; ++i) {
    LlamaLayer& L = layers_[i];
    auto name = [i](const char* suffix) { return fmt::format("blk.{}.{}", i, suffix); };
    TF_ASSIGN_OR_RETURN(L.attn_norm, w->Vector(name("attn_norm.weight"), n_embd));
    TF_ASSIGN_OR_RETURN(L.wq, w->Matrix(name("attn_q.weight"), {n_embd, q_dim}));
    TF_ASSIGN_OR_RETURN(L.wk, w->Matrix(name("attn_k.weight"), {n_embd, kv_dim}));
    TF_ASSIGN_OR_RETURN(L.wv, w->Matrix(name("attn_v.weight"), {n_embd, kv_dim}));
    TF_ASSIGN_OR_RETURN(L.wo, w->Matrix(name("attn_output.weight"), {q_dim, n_embd}));
    TF_ASSIGN_OR_RETURN(L.bq, w->OptionalVector(name("attn_q.bias"), q_dim));
    TF_ASSIGN_OR_RETURN(L.bk, w->OptionalVector(name("attn_k.bias"), kv_dim));
    TF_ASSIGN_OR_RETURN(L.bv, w->OptionalVector(name("attn_v.bias"), kv_dim));
    TF_ASSIGN_OR_RETURN(L.ffn_norm, w->Vector(name("ffn_norm.weight"), n_embd));
    TF_ASSIGN_OR_RETURN(L.w_gate, w->Matrix(name("ffn_gate.weight"), {n_embd, config_.n_ff}));
    TF_ASSIGN_OR_RETURN(L.w_up, w->Matrix(name("ffn_up.weight"), {n_embd, config_.n_ff}));
    TF_ASSIGN_OR_RETURN(L.w_down, w->Matrix(name("ffn_down.weight"), {config_.n_ff, n_embd}));
  }
  // Per decoded token every weight is read once, the embedding table only a row.
  weight_bytes_ = w->bytes_used() - token_embd_.nbytes;
  matmul_macs_ = static_cast<double>(w->matrix_elements());
  return Status::Ok();
}

void LlamaModel::Resize(int64_t n) {
  const size_t nn = static_cast<size_t>(n);
  const size_t q_dim = config_.n_head * config_.head_dim_k, kv_dim = config_.n_head_kv * config_.head_dim_k;
  s_.x.resize(nn * config_.n_embd);
  s_.h.resize(nn * config_.n_embd);
  s_.q.resize(nn * q_dim);
  s_.k.resize(nn * kv_dim);
  s_.v.resize(nn * kv_dim);
  s_.attn.resize(nn * q_dim);
  s_.gate.resize(nn * config_.n_ff);
}

void AddBias(const float* bias, int64_t n, int64_t dim, float* rows) {
  if (bias == nullptr) return;
  for (int64_t t = 0; t < n; ++t) AddInPlace(bias, dim, rows + t * dim);
}

void LlamaModel::AttentionBlock(const LlamaLayer& L, int layer, const ForwardBatch& batch,
                                const std::vector<int64_t>& positions, KvStorage* kv, ThreadPool* pool) {
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int hd = static_cast<int>(config_.head_dim_k);
  const int n_head = static_cast<int>(config_.n_head), n_kv = static_cast<int>(config_.n_head_kv);
  const int64_t q_dim = n_head * hd, kv_dim = n_kv * hd;
  RmsNorm(s_.x.data(), L.attn_norm, config_.rms_eps, n, config_.n_embd, s_.h.data());
  const MatMulJob qkv[] = {{L.wq, s_.q.data(), q_dim}, {L.wk, s_.k.data(), kv_dim}, {L.wv, s_.v.data(), kv_dim}};
  MatMulMany(kernels_, qkv, s_.h.data(), n, &s_.matmul, pool);
  AddBias(L.bq, n, q_dim, s_.q.data());
  AddBias(L.bk, n, kv_dim, s_.k.data());
  AddBias(L.bv, n, kv_dim, s_.v.data());
  for (int64_t t = 0; t < n; ++t) {
    ApplyRope(config_.rope, positions[t], n_head, hd, hd, s_.q.data() + t * q_dim);
    ApplyRope(config_.rope, positions[t], n_kv, hd, hd, s_.k.data() + t * kv_dim);
  }
  AttentionShape shape;
  shape.n_head = n_head;
  shape.n_kv_head = n_kv;
  shape.head_dim_qk = shape.head_dim_v = hd;
  shape.q_stride = shape.out_stride = q_dim;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(hd));
  s_.attn_seqs.clear();
  for (size_t s = 0; s < batch.seqs.size(); ++s) {
    const SequenceSlice& seq = batch.seqs[s];
    for (int64_t i = 0; i < seq.num_tokens; ++i) {
      const int64_t t = seq.token_begin + i;
      const KvSlot at = SlotOf(seq, seq.start_pos + i, kv->block_size());
      kv->StoreKey(layer, at.block, at.slot, s_.k.data() + t * kv_dim);
      kv->StoreValue(layer, at.block, at.slot, s_.v.data() + t * kv_dim);
    }
    s_.attn_seqs.push_back({s_.q.data() + seq.token_begin * q_dim, seq.num_tokens, seq.start_pos,
                            KvView(kv, layer, seq.block_table), s_.attn.data() + seq.token_begin * q_dim});
  }
  CausalAttention(kernels_, shape, s_.attn_seqs, pool);  // every sequence in one region
  Project(L.wo, s_.attn.data(), n, s_.h.data(), pool);
  AddInPlace(s_.h.data(), n * config_.n_embd, s_.x.data());
}

void LlamaModel::FeedForwardBlock(const LlamaLayer& L, int64_t n, ThreadPool* pool) {
  RmsNorm(s_.x.data(), L.ffn_norm, config_.rms_eps, n, config_.n_embd, s_.h.data());
  MatMulSiluGate(kernels_, L.w_gate, L.w_up, s_.h.data(), n, s_.gate.data(), config_.n_ff, &s_.matmul, pool);
  Project(L.w_down, s_.gate.data(), n, s_.h.data(), pool);
  AddInPlace(s_.h.data(), n * config_.n_embd, s_.x.data());
}

Status LlamaModel::Forward(const ForwardBatch& batch, KvStorage* kv, ThreadPool* pool, float* logits) {
  TF_RETURN_IF_ERROR(ValidateBatch(batch, config_.n_vocab, *kv));
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  if (n == 0) return Status::Ok();
  Resize(n);
  EmbedTokens(token_embd_, batch.tokens, s_.x.data(), pool);
  const std::vector<int64_t> positions = TokenPositions(batch);
  for (int layer = 0; layer < static_cast<int>(config_.n_layer); ++layer) {
    AttentionBlock(layers_[layer], layer, batch, positions, kv, pool);
    FeedForwardBlock(layers_[layer], n, pool);
  }
  ComputeLogits(kernels_, s_.x.data(), config_.n_embd, batch.logit_rows, output_norm_, config_.rms_eps, output_,
                logits, &s_.matmul, pool);
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadLlamaFamilyModel(const GgufFile& file, const KernelTable& kernels,
                                                 const ModelOptions& options, ThreadPool* pool) {
  TF_ASSIGN_OR_RETURN(std::string arch, file.GetString("general.architecture"));
  const RopeStyle style = arch == "llama" ? RopeStyle::kAdjacentPairs : RopeStyle::kHalves;
  TF_ASSIGN_OR_RETURN(ModelConfig config, ReadModelConfig(file, style));
  if (config.head_dim_k != config.head_dim_v) {
    return UnimplementedError(fmt::format("{}: key length {} differs from value length {}", arch,
                                          config.head_dim_k, config.head_dim_v));
  }
  const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
  if (embd == nullptr) return NotFoundError("tensor token_embd.weight is missing");
  config.n_vocab = embd->ne[1];
  auto model = std::make_unique<LlamaModel>(std::move(config), kernels);
  WeightLoader loader(file, kernels, model->mutable_arena(), pool, options.pack_weights);
  TF_RETURN_IF_ERROR(model->Load(&loader));
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace tf
