// DeepSeek-specific checks: the split k_b/v_b layout of newer converters
// gives the same logits as the combined kv_b (converted here with tokenfab's
// own GGUF writer); group-limited routing picks experts by the stated rule;
// the KV cache holds only latent + rotary key per token.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>

#include "common/fixtures.h"
#include "common/load_pool.h"
#include "engine/sequence_runner.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "model/moe.h"
#include "synth/synthetic_model.h"

#include <functional>
#include "tensor/dequantize.h"

namespace tf {
namespace {

// Rewrites every blk.N.attn_kv_b.weight [kv_lora, n_head*(nope+v)] as
// attn_k_b.weight [nope, kv_lora, n_head] (float32, transposed per head) and
// attn_v_b.weight [kv_lora, v, n_head] (the value rows, bytes unchanged).
std::string ConvertToSplitKvB(const std::string& src_path, const std::string& out_path) {
  auto file = *GgufFile::Open(src_path);
  const std::string arch = *file->GetString("general.architecture");
  const int64_t n_head = *file->GetInt(arch + ".attention.head_count");
  const int64_t kv_lora = *file->GetInt(arch + ".attention.kv_lora_rank");
  const int64_t v_dim = *file->GetInt(arch + ".attention.value_length");
  const int64_t nope = *file->GetInt(arch + ".attention.key_length") - *file->GetInt(arch + ".rope.dimension_count");
  GgufWriter w;
  for (const auto& kv : file->metadata()) w.Set(kv.key, kv.value);
  std::vector<std::vector<float>> k_b_storage;  // kept alive until the file is written
  k_b_storage.reserve(file->tensors().size());
  const std::regex kv_b(R"(blk\.(\d+)\.attn_kv_b\.weight)");
  for (const GgufTensorInfo& t : file->tensors()) {
    const TensorView view = file->View(t);
    std::smatch m;
    if (!std::regex_match(t.name, m, kv_b)) {
      std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
      EXPECT_TRUE(w.AddTensorData(t.name, t.type, ne, {view.data, view.nbytes}).ok());
      continue;
    }
    const std::string blk = "blk." + m[1].str() + ".";
    std::vector<float>& k_b = k_b_storage.emplace_back(n_head * kv_lora * nope);
    std::vector<float> row(kv_lora);
    for (int64_t h = 0; h < n_head; ++h) {
      for (int64_t i = 0; i < nope; ++i) {
        DequantizeRow(t.type, view.row(h * (nope + v_dim) + i), row.data(), kv_lora);
        for (int64_t r = 0; r < kv_lora; ++r) k_b[(h * kv_lora + r) * nope + i] = row[r];
      }
    }
    EXPECT_TRUE(w.AddTensorData(blk + "attn_k_b.weight", DType::kF32, {nope, kv_lora, n_head},
                                {reinterpret_cast<const uint8_t*>(k_b.data()), k_b.size() * sizeof(float)})
                    .ok());
    EXPECT_TRUE(w.AddTensor(blk + "attn_v_b.weight", t.type, {kv_lora, v_dim, n_head}, [view, n_head, nope, v_dim](std::span<uint8_t> out) {
      const size_t bytes = view.row_bytes() * v_dim;
      for (int64_t h = 0; h < n_head; ++h) std::memcpy(out.data() + h * bytes, view.row(h * (nope + v_dim) + nope), bytes);
      return Status::Ok();
    }).ok());
  }
  EXPECT_TRUE(w.WriteFile(out_path).ok());
  return out_path;
}

std::vector<float> PromptLogits(const std::string& path, const std::vector<int32_t>& tokens) {
  auto file = *GgufFile::Open(path);
  auto model = LoadModel(*file, ModelOptions{}, testing::LoadPool());
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  ThreadPool pool(2);
  auto runner = *SequenceRunner::Create(model->get(), &pool, 64);
  std::vector<float> logits;
  EXPECT_TRUE(runner->Append(tokens, true, &logits).ok());
  return logits;
}

TEST(Deepseek2Test, SplitKvBLayoutGivesTheSameLogits) {
  for (const std::string name : {"tiny-deepseek3-q8_0", "tiny-deepseek3-grouped-f16"}) {
    const std::string src = testing::FixturePath("models/" + name + ".gguf");
    const std::string split = ConvertToSplitKvB(src, testing::TempPath("") + name + "-split.gguf");
    {
      auto f = *GgufFile::Open(split);
      ASSERT_EQ(f->FindTensor("blk.0.attn_kv_b.weight"), nullptr);
      ASSERT_NE(f->FindTensor("blk.3.attn_k_b.weight"), nullptr);
    }
    const std::vector<int32_t> tokens = {32013, 10503, 2053, 245, 761, 11, 745, 438, 245, 1651};
    const auto a = PromptLogits(src, tokens), b = PromptLogits(split, tokens);
    ASSERT_EQ(a.size(), b.size());
    double max_diff = 0.0;
    for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
    // Same weights, the key projection applied from the other side: only the
    // order of float32 sums differs.
    EXPECT_LT(max_diff, 2e-3) << name;
  }
}

std::string SynthDeepseek(const std::string& preset) {
  ThreadPool pool(2);
  SynthOptions o;
  o.preset = preset;
  o.type = DType::kQ8_0;
  o.output_path = testing::TempPath("") + preset + ".gguf";
  EXPECT_TRUE(WriteSyntheticModel(o, &pool).ok());
  return o.output_path;
}

TEST(Deepseek2Test, V2LiteAndV3LayoutsRunIncrementallyAndSplit) {
  const std::vector<int32_t> tokens = {4094, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100};
  for (const std::string preset : {"tiny-deepseek-v2-lite", "tiny-deepseek-v3"}) {
    const std::string path = SynthDeepseek(preset);
    auto file = *GgufFile::Open(path);
    auto model = LoadModel(*file, ModelOptions{}, testing::LoadPool());
    ASSERT_TRUE(model.ok()) << preset << ": " << model.status().ToString();
    ThreadPool pool(2);
    // One pass over the prompt equals feeding it token by token (the latent
    // cache carries everything attention needs).
    auto whole = *SequenceRunner::Create(model->get(), &pool, 32);
    std::vector<float> all;
    ASSERT_TRUE(whole->Append(tokens, true, &all).ok());
    auto step = *SequenceRunner::Create(model->get(), &pool, 32);
    const int64_t n_vocab = (*model)->config().n_vocab;
    std::vector<float> one;
    for (size_t i = 0; i < tokens.size(); ++i) {
      ASSERT_TRUE(step->Append(std::vector<int32_t>{tokens[i]}, false, &one).ok());
      for (int64_t v = 0; v < n_vocab; v += 7) {
        ASSERT_TRUE(std::isfinite(one[v]));
        ASSERT_NEAR(one[v], all[i * n_vocab + v], 2e-2) << preset << " token " << i;
      }
    }
    const std::string split = ConvertToSplitKvB(path, testing::TempPath("") + preset + "-split.gguf");
    const auto a = PromptLogits(path, tokens), b = PromptLogits(split, tokens);
    double max_diff = 0.0;
    for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
    EXPECT_LT(max_diff, 2e-3) << preset;
  }
}

TEST(Deepseek2Test, MultiTokenPredictionLayersAreSkipped) {
  const std::string src = testing::FixturePath("models/tiny-deepseek3-q8_0.gguf");
  auto file = *GgufFile::Open(src);
  GgufWriter w;
  for (const auto& kv : file->metadata()) w.Set(kv.key, kv.value);
  w.SetU32("deepseek2.block_count", 5);
  w.SetU32("deepseek2.nextn_predict_layers", 1);
  for (const auto& t : file->tensors()) {
    const TensorView v = file->View(t);
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    ASSERT_TRUE(w.AddTensorData(t.name, t.type, ne, {v.data, v.nbytes}).ok());
  }
  // An MTP block: tensors the main model never reads.
  std::vector<float> zeros(256 * 512, 0.0f);
  ASSERT_TRUE(w.AddTensorData("blk.4.nextn.eh_proj.weight", DType::kF32, {512, 256},
                              {reinterpret_cast<const uint8_t*>(zeros.data()), zeros.size() * 4}).ok());
  const std::string path = testing::TempPath("mtp.gguf");
  ASSERT_TRUE(w.WriteFile(path).ok());
  const std::vector<int32_t> tokens = {32013, 10503, 2053, 245};
  const auto a = PromptLogits(src, tokens), b = PromptLogits(path, tokens);
  ASSERT_EQ(a, b);
}

TEST(Deepseek2Test, MalformedDeepseekFilesNameTheProblem) {
  const std::string src = testing::FixturePath("models/tiny-deepseek3-q8_0.gguf");
  auto load_with = [&](const std::function<void(GgufWriter*)>& edit) {
    auto file = *GgufFile::Open(src);
    GgufWriter w;
    for (const auto& kv : file->metadata()) w.Set(kv.key, kv.value);
    edit(&w);
    for (const auto& t : file->tensors()) {
      const TensorView v = file->View(t);
      std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
      EXPECT_TRUE(w.AddTensorData(t.name, t.type, ne, {v.data, v.nbytes}).ok());
    }
    const std::string path = testing::TempPath("bad-deepseek.gguf");
    EXPECT_TRUE(w.WriteFile(path).ok());
    auto f = *GgufFile::Open(path);
    auto model = LoadModel(*f, ModelOptions{}, testing::LoadPool());
    return model.ok() ? std::string("ok") : model.status().message();
  };
  EXPECT_NE(load_with([](GgufWriter* w) { w->Remove("deepseek2.attention.kv_lora_rank"); }).find("kv_lora_rank' is missing"),
            std::string::npos);
  EXPECT_NE(load_with([](GgufWriter* w) { w->SetU32("deepseek2.expert_count", 32); }).find("ffn_gate_inp.weight: expected shape"),
            std::string::npos);
  EXPECT_NE(load_with([](GgufWriter* w) { w->SetU32("deepseek2.expert_used_count", 40); }).find("expert_used_count"),
            std::string::npos);
  EXPECT_NE(load_with([](GgufWriter* w) { w->SetU32("deepseek2.expert_group_count", 3); }).find("must divide"),
            std::string::npos);
  EXPECT_NE(load_with([](GgufWriter* w) { w->SetU32("deepseek2.expert_gating_func", 7); }).find("expert_gating_func"),
            std::string::npos);
  EXPECT_NE(load_with([](GgufWriter* w) { w->SetU32("deepseek2.nextn_predict_layers", 4); }).find("nextn_predict_layers"),
            std::string::npos);
}

TEST(MoeRoutingTest, GroupLimitedRoutingFollowsDeepseekV3) {
  MoeRouting r;
  r.n_expert = 8;
  r.n_expert_used = 2;
  r.n_group = 4;  // groups {0,1} {2,3} {4,5} {6,7}
  r.n_group_used = 2;
  r.gating = ExpertGating::kSigmoid;
  r.normalize = true;
  r.scale = 2.0f;
  // Sigmoid inverse so the probabilities are exactly these.
  const float probs[8] = {0.9f, 0.1f, 0.6f, 0.6f, 0.7f, 0.45f, 0.2f, 0.2f};
  float logits[8];
  for (int e = 0; e < 8; ++e) logits[e] = std::log(probs[e] / (1 - probs[e]));
  ExpertChoice out[2];
  // With a selection bias (here all zero) a group scores the sum of its two
  // best: g0 1.0, g1 1.2, g2 1.15, g3 0.4 -> keep g1, g2; expert 0, the single
  // best, is excluded with its group.
  const float zero_bias[8] = {};
  RouteToken(r, logits, zero_bias, out);
  EXPECT_EQ(out[0].expert, 4);
  EXPECT_EQ(out[1].expert, 2);  // 2 and 3 tie; the lower index wins
  EXPECT_NEAR(out[0].weight, 0.7f / 1.3f * 2.0f, 1e-5);
  // Without a bias a group scores its best expert (DeepSeek's code):
  // g0 0.9, g1 0.6, g2 0.7, g3 0.2 -> keep g0, g2.
  RouteToken(r, logits, nullptr, out);
  EXPECT_EQ(out[0].expert, 0);
  EXPECT_EQ(out[1].expert, 4);
  // The bias steers the choice; the weights still come from the unbiased
  // probabilities: selection e2 1.1, e0 0.9 (g1 1.7, g0 1.0 kept).
  const float bias[8] = {0, 0, 0.5f, 0, -1, -1, 0, 0};
  RouteToken(r, logits, bias, out);
  EXPECT_EQ(out[0].expert, 2);
  EXPECT_EQ(out[1].expert, 0);
  EXPECT_NEAR(out[0].weight, 0.6f / 1.5f * 2.0f, 1e-5);
  EXPECT_NEAR(out[1].weight, 0.9f / 1.5f * 2.0f, 1e-5);
  // Without groups the plain top-k wins.
  r.n_group = 1;
  RouteToken(r, logits, nullptr, out);
  EXPECT_EQ(out[0].expert, 0);
  EXPECT_EQ(out[1].expert, 4);
  // Softmax gating without normalization keeps the softmax probabilities.
  r.gating = ExpertGating::kSoftmax;
  r.normalize = false;
  r.scale = 1.0f;
  const float soft_logits[8] = {0, 0, 0, 0, 0, 0, 0, std::log(7.0f)};
  RouteToken(r, soft_logits, nullptr, out);
  EXPECT_EQ(out[0].expert, 7);
  EXPECT_NEAR(out[0].weight, 0.5f, 1e-5);
}

TEST(Deepseek2Test, KvCacheHoldsLatentAndRotaryKeyOnly) {
  auto file = *GgufFile::Open(testing::FixturePath("models/tiny-deepseek3-q8_0.gguf"));
  auto model = *LoadModel(*file, ModelOptions{}, testing::LoadPool());
  const KvLayout kv = model->kv_layout();
  EXPECT_EQ(kv.n_layer, 4);
  EXPECT_EQ(kv.k_row, 64 + 16);  // kv_lora_rank + rope dims
  EXPECT_EQ(kv.v_row, 0);
  EXPECT_EQ(kv.bytes_per_token(DType::kF32), 4u * 80 * 4);
  EXPECT_EQ(kv.bytes_per_token(DType::kBF16), 4u * 80 * 2);
}

}  // namespace
}  // namespace tf
