// Loading models: synthetic files of every type load and run; malformed
// model files (wrong shapes, missing tensors, bad hyperparameters,
// unsupported types) give errors that name the tensor or key.
#include <gtest/gtest.h>

#include "common/fixtures.h"
#include "common/load_pool.h"

#include <cmath>
#include <functional>

#include "engine/sequence_runner.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "synth/synthetic_model.h"

namespace tf {
namespace {

std::string SynthTiny(DType type, uint64_t seed, const std::string& tag) {
  ThreadPool pool(2);
  SynthOptions o;
  o.preset = "tiny";
  o.type = type;
  o.seed = seed;
  o.output_path = testing::TempPath("synth-") + tag + ".gguf";
  Status st = WriteSyntheticModel(o, &pool);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return o.output_path;
}

std::vector<float> LastLogits(const std::string& path, const std::vector<int32_t>& tokens) {
  auto file = GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  auto model = LoadModel(**file, ModelOptions{}, testing::LoadPool());
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  ThreadPool pool(2);
  auto runner = SequenceRunner::Create(model->get(), &pool, 64);
  std::vector<float> logits;
  EXPECT_TRUE((*runner)->Append(tokens, false, &logits).ok());
  return logits;
}

TEST(SynthModelTest, EveryTypeLoadsRunsAndAgreesWithF32) {
  const std::vector<int32_t> prompt = {4094, 300, 301, 302, 303, 304, 305};
  const auto reference = LastLogits(SynthTiny(DType::kF32, 42, "f32"), prompt);
  const int32_t ref_argmax = static_cast<int32_t>(std::max_element(reference.begin(), reference.end()) - reference.begin());
  float spread = *std::max_element(reference.begin(), reference.end()) - *std::min_element(reference.begin(), reference.end());
  EXPECT_GT(spread, 10.0f) << "synthetic logits should be peaked";
  for (DType type : {DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K}) {
    const auto logits = LastLogits(SynthTiny(type, 42, std::string(DTypeName(type))), prompt);
    ASSERT_EQ(logits.size(), reference.size());
    double max_diff = 0.0;
    for (size_t i = 0; i < logits.size(); ++i) {
      ASSERT_TRUE(std::isfinite(logits[i]));
      max_diff = std::max(max_diff, std::fabs(double(logits[i]) - reference[i]));
    }
    // Same random weights, rounded to each type: the closer the type, the
    // closer the logits.
    const double bound = type == DType::kF16 ? 0.05 : type == DType::kQ8_0 || type == DType::kBF16 ? 0.5 : 4.0;
    EXPECT_LT(max_diff, bound) << DTypeName(type);
    if (type == DType::kF16) {
      EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), ref_argmax);
    }
  }
}

TEST(SynthModelTest, VocabFromAnotherFileIsCopied) {
  ThreadPool pool(2);
  SynthOptions o;
  o.preset = "tiny";
  o.type = DType::kQ8_0;
  o.vocab_from = std::string(TF_FIXTURES_DIR) + "/vocab/ggml-vocab-llama-spm.gguf";
  o.output_path = testing::TempPath("synth-spm.gguf");
  ASSERT_TRUE(WriteSyntheticModel(o, &pool).ok());
  auto file = *GgufFile::Open(o.output_path);
  auto model = LoadModel(*file, ModelOptions{}, testing::LoadPool());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->config().n_vocab, 32000);
  EXPECT_EQ(*file->GetString("tokenizer.ggml.model"), "llama");
  EXPECT_EQ((*file->GetArray("tokenizer.ggml.tokens"))->strings[29871], "\u2581");
}

TEST(SynthModelTest, SameSeedSameBytes) {
  const std::string a = SynthTiny(DType::kQ4_0, 7, "a"), b = SynthTiny(DType::kQ4_0, 7, "b");
  const std::string c = SynthTiny(DType::kQ4_0, 8, "c");
  auto fa = GgufFile::Open(a), fb = GgufFile::Open(b), fc = GgufFile::Open(c);
  ASSERT_TRUE(fa.ok() && fb.ok() && fc.ok());
  auto bytes = [](const GgufFile& f) {
    auto v = *f.FindView("blk.2.ffn_down.weight");
    return std::string(reinterpret_cast<const char*>(v.data), v.nbytes);
  };
  EXPECT_EQ(bytes(**fa), bytes(**fb));
  EXPECT_NE(bytes(**fa), bytes(**fc));
}

// Copies a model file into a writer, letting `edit` change metadata and
// replace tensors, and returns the load error.
Status LoadEdited(const std::string& src,
                  const std::function<void(GgufWriter*)>& edit_meta,
                  const std::function<bool(const GgufTensorInfo&, GgufWriter*)>& replace_tensor) {
  auto file = *GgufFile::Open(src);
  GgufWriter w;
  for (const auto& kv : file->metadata()) w.Set(kv.key, kv.value);
  edit_meta(&w);
  for (const auto& t : file->tensors()) {
    if (replace_tensor(t, &w)) continue;
    const TensorView v = file->View(t);
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    EXPECT_TRUE(w.AddTensorData(t.name, t.type, ne, {v.data, v.nbytes}).ok());
  }
  const std::string out = testing::TempPath("edited.gguf");
  EXPECT_TRUE(w.WriteFile(out).ok());
  auto edited = GgufFile::Open(out);
  if (!edited.ok()) return edited.status();
  auto model = LoadModel(**edited, ModelOptions{}, testing::LoadPool());
  return model.ok() ? Status::Ok() : model.status();
}

auto NoMeta = [](GgufWriter*) {};
auto NoTensor = [](const GgufTensorInfo&, GgufWriter*) { return false; };

GgufWriter::TensorFiller Zeros() {
  return [](std::span<uint8_t> out) {
    std::fill(out.begin(), out.end(), 0);
    return Status::Ok();
  };
}

TEST(ModelLoadErrorsTest, NamesTheTensorOrKey) {
  const std::string src = SynthTiny(DType::kQ8_0, 1, "errors");
  EXPECT_TRUE(LoadEdited(src, NoMeta, NoTensor).ok());
  auto replace = [](const std::string& name, DType type, std::vector<int64_t> ne) {
    return [=](const GgufTensorInfo& t, GgufWriter* w) {
      if (t.name != name) return false;
      if (!ne.empty()) {
        EXPECT_TRUE(w->AddTensor(name, type, ne, Zeros()).ok());
      }
      return true;
    };
  };
  EXPECT_EQ(LoadEdited(src, NoMeta, replace("blk.0.attn_q.weight", DType::kQ8_0, {256, 128})).message(),
            "tensor blk.0.attn_q.weight: expected shape [256, 256], file has [256, 128]");
  EXPECT_EQ(LoadEdited(src, NoMeta, replace("blk.3.attn_q.weight", DType::kQ8_0, {256, 256, 2})).message(),
            "tensor blk.3.attn_q.weight: expected 2 dims, file has 3");
  EXPECT_EQ(LoadEdited(src, NoMeta, replace("blk.1.ffn_up.weight", DType::kQ8_0, {})).message(),
            "tensor blk.1.ffn_up.weight is missing");
  EXPECT_EQ(LoadEdited(src, NoMeta, replace("blk.2.ffn_gate.weight", DType::kQ2_K, {256, 768})).message(),
            "tensor blk.2.ffn_gate.weight: type q2_K is not supported for matrix multiplication");
  EXPECT_NE(LoadEdited(src, [](GgufWriter* w) { w->SetU32("llama.attention.head_count_kv", 3); }, NoTensor)
                .message().find("do not divide"), std::string::npos);
  EXPECT_NE(LoadEdited(src, [](GgufWriter* w) { w->SetU32("llama.attention.head_count", 0); }, NoTensor)
                .message().find("llama.attention.head_count': 0 is outside"), std::string::npos);
  EXPECT_NE(LoadEdited(src, [](GgufWriter* w) { w->SetString("llama.embedding_length", "big"); }, NoTensor)
                .message().find("expected an integer, file has string"), std::string::npos);
  EXPECT_NE(LoadEdited(src, [](GgufWriter* w) { w->SetString("general.architecture", "mamba"); }, NoTensor)
                .message().find("'mamba' is not supported"), std::string::npos);
  EXPECT_NE(LoadEdited(src, [](GgufWriter* w) { w->SetF32("llama.rope.freq_base", NAN); }, NoTensor)
                .message().find("rope.freq_base"), std::string::npos);
}

TEST(ModelRunTest, BadTokensAndOverflowAreErrorsNotCrashes) {
  auto file = *GgufFile::Open(SynthTiny(DType::kQ8_0, 3, "run"));
  auto model = *LoadModel(*file, ModelOptions{}, testing::LoadPool());
  ThreadPool pool(2);
  auto runner = *SequenceRunner::Create(model.get(), &pool, 8);
  std::vector<float> logits;
  EXPECT_EQ(runner->Append(std::vector<int32_t>{1, 4096}, false, &logits).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runner->Append(std::vector<int32_t>{-1}, false, &logits).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(runner->num_tokens(), 0);  // nothing half-appended
  EXPECT_TRUE(runner->Append(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}, false, &logits).ok());
  EXPECT_EQ(runner->Append(std::vector<int32_t>{1}, false, &logits).code(), StatusCode::kOutOfRange);
  EXPECT_FALSE(SequenceRunner::Create(model.get(), &pool, int64_t{1} << 40).ok());
}

TEST(ModelRunTest, Bf16KvCacheStaysCloseToF32) {
  auto file = *GgufFile::Open(SynthTiny(DType::kF32, 13, "kvtype"));
  auto model = *LoadModel(*file, ModelOptions{}, testing::LoadPool());
  ThreadPool pool(2);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 40; ++i) tokens.push_back(4094 - 1 - (i * 37) % 4000);
  std::vector<float> f32, bf16;
  auto a = *SequenceRunner::Create(model.get(), &pool, 64, DType::kF32);
  auto b = *SequenceRunner::Create(model.get(), &pool, 64, DType::kBF16);
  ASSERT_TRUE(a->Append(tokens, true, &f32).ok());
  ASSERT_TRUE(b->Append(tokens, true, &bf16).ok());
  EXPECT_LT(b->kv_bytes() * 2, a->kv_bytes() + 1);  // half the memory
  const int64_t n_vocab = model->config().n_vocab;
  double max_diff = 0.0, max_logit = 0.0;
  for (size_t i = 0; i < f32.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double(f32[i]) - bf16[i]));
    max_logit = std::max(max_logit, std::fabs(double(f32[i])));
  }
  // bf16 keeps 8 bits of mantissa: the logits move by a few percent at most.
  EXPECT_GT(max_diff, 0.0);
  EXPECT_LT(max_diff, 0.05 * max_logit);
  int same_argmax = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto row_a = f32.begin() + t * n_vocab, row_b = bf16.begin() + t * n_vocab;
    same_argmax += std::max_element(row_a, row_a + n_vocab) - row_a == std::max_element(row_b, row_b + n_vocab) - row_b;
  }
  EXPECT_GE(same_argmax, 36);
  EXPECT_FALSE(SequenceRunner::Create(model.get(), &pool, 64, DType::kQ8_0).ok());
}

TEST(ModelRunTest, IncrementalDecodeEqualsOnePass) {
  auto file = *GgufFile::Open(SynthTiny(DType::kF32, 11, "incremental"));
  auto model = *LoadModel(*file, ModelOptions{}, testing::LoadPool());
  ThreadPool pool(2);
  const std::vector<int32_t> tokens = {4094, 10, 20, 30, 40, 50, 60, 70, 80, 90};
  auto whole = *SequenceRunner::Create(model.get(), &pool, 16);
  std::vector<float> all;
  ASSERT_TRUE(whole->Append(tokens, true, &all).ok());
  auto step = *SequenceRunner::Create(model.get(), &pool, 16);
  std::vector<float> one;
  const int64_t n_vocab = model->config().n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(step->Append(std::vector<int32_t>{tokens[i]}, false, &one).ok());
    for (int64_t v = 0; v < n_vocab; ++v) ASSERT_NEAR(one[v], all[i * n_vocab + v], 1e-3) << i;
  }
}

}  // namespace
}  // namespace tf
