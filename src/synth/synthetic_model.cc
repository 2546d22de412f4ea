#include "synth/synthetic_model.h"

#include "synth/synthetic_plan.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quantize.h"
#include "synth/vocab_writer.h"

namespace tf {
namespace {

// splitmix64: seeds a cheap per-row generator from (seed, tensor, row), so
// the file is identical whatever the thread count.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t HashName(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

// Approximately normal values (sum of four uniforms, unit variance), in
// [-2*sqrt(3), 2*sqrt(3)]: no outliers to spoil quantization.
void FillNormalish(uint64_t state, float stddev, float* out, int64_t n) {
  constexpr float kScale = 1.7320508f / 2147483648.0f;  // sqrt(3) / 2^31
  for (int64_t i = 0; i < n; ++i) {
    state = Mix(state);
    const int64_t a = static_cast<int32_t>(state), b = static_cast<int32_t>(state >> 32);
    state = Mix(state);
    const int64_t c = static_cast<int32_t>(state), d = static_cast<int32_t>(state >> 32);
    out[i] = static_cast<float>(a + b + c + d) * kScale * 0.5f * stddev;
  }
}

using synth::TensorPlan;

}  // namespace

namespace synth {

DType TypeForRows(DType type, int64_t row_length) {
  if (row_length % Traits(type).block_size == 0) return type;
  const bool four_bit = type == DType::kQ4_0 || type == DType::kQ4_K;
  const DType fallback = four_bit ? DType::kQ4_0 : DType::kQ8_0;
  return row_length % Traits(fallback).block_size == 0 ? fallback : DType::kF16;
}

DType OutputType(DType type) {
  return type == DType::kQ4_0 || type == DType::kQ4_K ? DType::kQ6_K : type;
}

uint32_t FileType(DType type) {
  switch (type) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ8_0: return 7;
    case DType::kQ4_K: return 15;
    case DType::kBF16: return 32;
    default: return 1;
  }
}

void WriteCommonMetadata(const SynthPreset& p, int64_t n_layer, int64_t n_vocab, DType type, GgufWriter* w) {
  const std::string a = p.arch;
  w->SetString("general.architecture", a);
  w->SetString("general.name", "tokenfab-synth-" + p.name);
  w->SetU32("general.file_type", FileType(type));
  w->SetU32("general.quantization_version", 2);
  w->SetU32(a + ".context_length", static_cast<uint32_t>(p.n_ctx));
  w->SetU32(a + ".embedding_length", static_cast<uint32_t>(p.n_embd));
  w->SetU32(a + ".block_count", static_cast<uint32_t>(n_layer));
  w->SetU32(a + ".feed_forward_length", static_cast<uint32_t>(p.n_ff));
  w->SetU32(a + ".attention.head_count", static_cast<uint32_t>(p.n_head));
  w->SetU32(a + ".attention.head_count_kv", static_cast<uint32_t>(p.n_head_kv));
  w->SetF32(a + ".attention.layer_norm_rms_epsilon", p.rms_eps);
  w->SetF32(a + ".rope.freq_base", p.rope_base);
  w->SetU32(a + ".rope.dimension_count", static_cast<uint32_t>(p.n_embd / p.n_head));
  w->SetU32(a + ".vocab_size", static_cast<uint32_t>(n_vocab));
}

}  // namespace synth

namespace {

using synth::FileType;
using synth::OutputType;

std::vector<TensorPlan> LlamaTensors(const SynthPreset& p, int64_t n_layer, int64_t n_vocab, DType type) {
  const int64_t hd = p.n_embd / p.n_head;
  const float proj = 1.0f / std::sqrt(static_cast<float>(p.n_embd));
  auto mat = [type](std::string name, std::vector<int64_t> ne, float stddev) {
    return TensorPlan{std::move(name), ne, synth::TypeForRows(type, ne[0]), stddev};
  };
  std::vector<TensorPlan> t;
  t.push_back(mat("token_embd.weight", {p.n_embd, n_vocab}, 1.0f));
  t.push_back({"output_norm.weight", {p.n_embd}, DType::kF32, 0.0f});
  if (!p.tied_output) t.push_back({"output.weight", {p.n_embd, n_vocab}, OutputType(type), 4.0f * proj});
  for (int64_t i = 0; i < n_layer; ++i) {
    auto n = [i](const char* s) { return fmt::format("blk.{}.{}", i, s); };
    t.push_back({n("attn_norm.weight"), {p.n_embd}, DType::kF32, 0.0f});
    t.push_back(mat(n("attn_q.weight"), {p.n_embd, p.n_head * hd}, proj));
    t.push_back(mat(n("attn_k.weight"), {p.n_embd, p.n_head_kv * hd}, proj));
    t.push_back(mat(n("attn_v.weight"), {p.n_embd, p.n_head_kv * hd}, proj));
    t.push_back(mat(n("attn_output.weight"), {p.n_head * hd, p.n_embd}, proj));
    t.push_back({n("ffn_norm.weight"), {p.n_embd}, DType::kF32, 0.0f});
    t.push_back(mat(n("ffn_gate.weight"), {p.n_embd, p.n_ff}, proj));
    t.push_back(mat(n("ffn_up.weight"), {p.n_embd, p.n_ff}, proj));
    t.push_back(mat(n("ffn_down.weight"), {p.n_ff, p.n_embd}, 1.0f / std::sqrt(static_cast<float>(p.n_ff))));
  }
  return t;
}


Status AddTensor(GgufWriter* w, const TensorPlan& plan, uint64_t seed, ThreadPool* pool) {
  const uint64_t tensor_seed = Mix(seed ^ HashName(plan.name));
  return w->AddTensor(plan.name, plan.type, plan.ne, [plan, tensor_seed, pool](std::span<uint8_t> out) {
    const int64_t k = plan.ne[0];
    const size_t row_bytes = *RowBytes(plan.type, k);
    const int64_t rows = static_cast<int64_t>(out.size() / row_bytes);
    pool->ParallelFor(rows, 16, [&](int64_t begin, int64_t end) {
      std::vector<float> row(k);
      for (int64_t r = begin; r < end; ++r) {
        if (plan.stddev == 0.0f) {
          std::fill(row.begin(), row.end(), plan.constant);
        } else {
          FillNormalish(Mix(tensor_seed + static_cast<uint64_t>(r)), plan.stddev, row.data(), k);
        }
        QuantizeRow(plan.type, row.data(), out.data() + r * row_bytes, k);
      }
    });
    return Status::Ok();
  });
}

}  // namespace

namespace {

SynthPreset DeepseekV2Lite() {
  SynthPreset p{"deepseek-v2-lite", "deepseek2", 2048, 27, 16, 16, 10944, 102400, 163840, 10000.0f, 1e-6f, false, {}};
  Deepseek2Shape d;
  d.q_lora_rank = 0;
  d.kv_lora_rank = 512;
  d.n_nope = 128;
  d.n_rot = 64;
  d.head_dim_v = 128;
  d.n_layer_dense = 1;
  d.n_expert = 64;
  d.n_expert_used = 6;
  d.n_expert_shared = 2;
  d.n_ff_expert = 1408;
  d.weights_scale = 1.0f;
  d.yarn_factor = 40.0f;
  d.yarn_original_context = 4096;
  d.yarn_log_multiplier = 0.0707f;
  p.deepseek2 = d;
  return p;
}

SynthPreset DeepseekV3() {
  SynthPreset p{"deepseek-v3", "deepseek2", 7168, 61, 128, 128, 18432, 129280, 163840, 10000.0f, 1e-6f, false, {}};
  Deepseek2Shape d;
  d.q_lora_rank = 1536;
  d.kv_lora_rank = 512;
  d.n_nope = 128;
  d.n_rot = 64;
  d.head_dim_v = 128;
  d.n_layer_dense = 3;
  d.n_expert = 256;
  d.n_expert_used = 8;
  d.n_expert_shared = 1;
  d.n_ff_expert = 2048;
  d.n_group = 8;
  d.n_group_used = 4;
  d.sigmoid_gating = true;
  d.weights_norm = true;
  d.weights_scale = 2.5f;
  d.yarn_factor = 40.0f;
  d.yarn_original_context = 4096;
  d.yarn_log_multiplier = 0.1f;
  p.deepseek2 = d;
  return p;
}

// Test-sized deepseek2 shapes: the V2-Lite layout (direct queries, softmax
// gating) and the V3 layout (query low-rank path, sigmoid gating with a
// selection bias, group-limited routing), a few MB each.
SynthPreset TinyDeepseek(bool v3) {
  SynthPreset p{v3 ? "tiny-deepseek-v3" : "tiny-deepseek-v2-lite", "deepseek2", 256, 3, 4, 4, 512, 4096, 4096,
                10000.0f, 1e-6f, false, {}};
  Deepseek2Shape d;
  d.q_lora_rank = v3 ? 128 : 0;
  d.kv_lora_rank = 64;
  d.n_nope = 32;
  d.n_rot = 32;
  d.head_dim_v = 32;
  d.n_layer_dense = 1;
  d.n_expert = 8;
  d.n_expert_used = 2;
  d.n_expert_shared = v3 ? 1 : 2;
  d.n_ff_expert = 256;
  d.n_group = v3 ? 4 : 1;
  d.n_group_used = v3 ? 2 : 1;
  d.sigmoid_gating = v3;
  d.weights_norm = v3;
  d.weights_scale = v3 ? 2.5f : 1.0f;
  d.yarn_factor = 4.0f;
  d.yarn_original_context = 1024;
  d.yarn_log_multiplier = v3 ? 0.1f : 0.0707f;
  p.deepseek2 = d;
  return p;
}

}  // namespace

const std::vector<SynthPreset>& SynthPresets() {
  static const std::vector<SynthPreset> presets = {
      // A few MB: the demo and quick tests.
      {"tiny", "llama", 256, 4, 8, 2, 768, 4096, 2048, 10000.0f, 1e-5f, false, {}},
      // TinyLlama-1.1B's shape.
      {"tinyllama-1.1b", "llama", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f, false, {}},
      DeepseekV2Lite(),
      DeepseekV3(),
      TinyDeepseek(false),
      TinyDeepseek(true),
  };
  return presets;
}

bool SynthSupportsType(DType type) {
  return type == DType::kF32 || type == DType::kF16 || type == DType::kBF16 || type == DType::kQ8_0 ||
         type == DType::kQ4_0 || type == DType::kQ4_K;
}

Status WriteSyntheticModel(const SynthOptions& o, ThreadPool* pool) {
  const SynthPreset* preset = nullptr;
  std::string names;
  for (const SynthPreset& p : SynthPresets()) {
    if (p.name == o.preset) preset = &p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  if (preset == nullptr) return InvalidArgumentError(fmt::format("--preset {}: unknown (presets: {})", o.preset, names));
  if (!SynthSupportsType(o.type)) {
    return InvalidArgumentError(fmt::format("--type {}: synth writes f32, f16, bf16, q8_0, q4_0 or q4_k", DTypeName(o.type)));
  }
  if (o.max_layers < 0) return InvalidArgumentError(fmt::format("--layers {}: must be positive", o.max_layers));
  const int64_t n_layer = o.max_layers > 0 ? std::min(o.max_layers, preset->n_layer) : preset->n_layer;
  GgufWriter writer;
  int64_t n_vocab = preset->n_vocab;
  if (!o.vocab_from.empty()) {
    TF_ASSIGN_OR_RETURN(auto vocab_file, GgufFile::Open(o.vocab_from));
    TF_ASSIGN_OR_RETURN(n_vocab, CopyVocab(*vocab_file, &writer));
  } else {
    TF_RETURN_IF_ERROR(WriteBuiltinByteVocab(n_vocab, &writer));
  }
  synth::WriteCommonMetadata(*preset, n_layer, n_vocab, o.type, &writer);
  std::vector<TensorPlan> plans;
  if (preset->deepseek2) {
    synth::WriteDeepseek2Metadata(*preset, n_layer, &writer);
    plans = synth::Deepseek2Tensors(*preset, n_layer, n_vocab, o.type);
  } else {
    plans = LlamaTensors(*preset, n_layer, n_vocab, o.type);
  }
  for (const TensorPlan& plan : plans) TF_RETURN_IF_ERROR(AddTensor(&writer, plan, o.seed, pool));
  return writer.WriteFile(o.output_path);
}

}  // namespace tf
